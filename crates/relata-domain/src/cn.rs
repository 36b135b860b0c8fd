//! Rules particular to Chinese business data: the unified social credit code (统一社会信用代码,
//! GB 32100-2015) every registered organisation has, and the provincial-level divisions
//! (GB/T 2260) an address names.

/// The 31 characters of a credit code, in the order of their values (no I, O, S, V, Z).
const CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// The weight of each of the first 17 characters: 3^i mod 31.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// A credit code as people type it — spaces, hyphens, lower case, full-width characters —
/// in its one written form.
pub fn normalize_credit_code(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            // full-width ASCII (Ａ, １) as typed with a Chinese input method
            '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
            c => c,
        })
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Why a (normalized) credit code is not one, or `None` when it is.
pub fn credit_code_problem(code: &str) -> Option<String> {
    let bytes = code.as_bytes();
    if bytes.len() != 18 || !code.is_ascii() {
        return Some(format!(
            "'{code}' is not a unified social credit code: it has 18 characters"
        ));
    }
    let value = |b: u8| CHARSET.iter().position(|c| *c == b).map(|p| p as u32);
    let mut sum = 0;
    for (i, b) in bytes[..17].iter().enumerate() {
        match value(*b) {
            Some(v) => sum += v * WEIGHTS[i],
            None => {
                return Some(format!(
                    "'{code}' is not a unified social credit code: '{}' is not one of its characters",
                    *b as char
                ));
            }
        }
    }
    if !bytes[2..8].iter().all(u8::is_ascii_digit) {
        return Some(format!(
            "'{code}' is not a unified social credit code: characters 3 to 8 are a region code"
        ));
    }
    let check = CHARSET[((31 - sum % 31) % 31) as usize];
    (bytes[17] != check).then(|| {
        format!(
            "'{code}' is not a unified social credit code: its last character should be '{}' (a typing mistake?)",
            check as char
        )
    })
}

/// The province (as [`PROVINCES`] value) of the region code in a valid credit code.
pub fn province_of_credit_code(code: &str) -> Option<&'static str> {
    let prefix = code.get(2..4)?;
    PROVINCES
        .iter()
        .find(|(_, _, _, gb)| *gb == prefix)
        .map(|(value, _, _, _)| *value)
}

/// Provincial-level divisions: picklist value, English label, Chinese label, GB/T 2260 prefix.
pub const PROVINCES: &[(&str, &str, &str, &str)] = &[
    ("beijing", "Beijing", "北京市", "11"),
    ("tianjin", "Tianjin", "天津市", "12"),
    ("hebei", "Hebei", "河北省", "13"),
    ("shanxi", "Shanxi", "山西省", "14"),
    ("inner_mongolia", "Inner Mongolia", "内蒙古自治区", "15"),
    ("liaoning", "Liaoning", "辽宁省", "21"),
    ("jilin", "Jilin", "吉林省", "22"),
    ("heilongjiang", "Heilongjiang", "黑龙江省", "23"),
    ("shanghai", "Shanghai", "上海市", "31"),
    ("jiangsu", "Jiangsu", "江苏省", "32"),
    ("zhejiang", "Zhejiang", "浙江省", "33"),
    ("anhui", "Anhui", "安徽省", "34"),
    ("fujian", "Fujian", "福建省", "35"),
    ("jiangxi", "Jiangxi", "江西省", "36"),
    ("shandong", "Shandong", "山东省", "37"),
    ("henan", "Henan", "河南省", "41"),
    ("hubei", "Hubei", "湖北省", "42"),
    ("hunan", "Hunan", "湖南省", "43"),
    ("guangdong", "Guangdong", "广东省", "44"),
    ("guangxi", "Guangxi", "广西壮族自治区", "45"),
    ("hainan", "Hainan", "海南省", "46"),
    ("chongqing", "Chongqing", "重庆市", "50"),
    ("sichuan", "Sichuan", "四川省", "51"),
    ("guizhou", "Guizhou", "贵州省", "52"),
    ("yunnan", "Yunnan", "云南省", "53"),
    ("tibet", "Tibet", "西藏自治区", "54"),
    ("shaanxi", "Shaanxi", "陕西省", "61"),
    ("gansu", "Gansu", "甘肃省", "62"),
    ("qinghai", "Qinghai", "青海省", "63"),
    ("ningxia", "Ningxia", "宁夏回族自治区", "64"),
    ("xinjiang", "Xinjiang", "新疆维吾尔自治区", "65"),
    ("taiwan", "Taiwan", "台湾省", "71"),
    ("hong_kong", "Hong Kong", "香港特别行政区", "81"),
    ("macao", "Macao", "澳门特别行政区", "82"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_credit_codes_pass_and_a_typo_names_the_right_check_character() {
        // the standard's own example, and two published codes of large companies
        for code in [
            "91350100M000100Y43",
            "914403001922038216",
            "91110000802100433B",
        ] {
            assert_eq!(credit_code_problem(code), None, "{code}");
        }
        let typo = credit_code_problem("914403001922038215").unwrap_or_default();
        assert!(typo.contains("should be '6'"), "{typo}");
        assert!(
            credit_code_problem("9144030019220382").is_some(),
            "too short"
        );
        assert!(credit_code_problem("91440300192203821I").is_some(), "no I");
        assert!(
            credit_code_problem("91AB0300192203821X").is_some(),
            "region digits"
        );
    }

    #[test]
    fn typed_forms_are_normalized_and_the_province_read_from_the_region() {
        assert_eq!(
            normalize_credit_code(" 9144 0300-1922 0382 16 "),
            "914403001922038216"
        );
        assert_eq!(
            normalize_credit_code("９１３５０１００ｍ０００１００ｙ４３"),
            "91350100M000100Y43"
        );
        assert_eq!(
            province_of_credit_code("914403001922038216"),
            Some("guangdong")
        );
        assert_eq!(
            province_of_credit_code("91350100M000100Y43"),
            Some("fujian")
        );
        assert_eq!(PROVINCES.len(), 34);
    }
}
