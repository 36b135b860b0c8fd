//! Company names for matching: "上海华远科技有限公司", "华远科技（中国）有限公司", "上海 华远科技
//! 股份有限公司" and "HUAYUAN TECHNOLOGY CO., LTD." differ by width, case, punctuation, legal
//! form and a place name, not by who the company is. [`company_key`] removes what does not
//! tell companies apart; [`company_similarity`] also forgives a leading place name.

use crate::search_terms::normalize;

/// Legal forms at the end of a name, longest first (checked again after each removal, so
/// "集团股份有限公司" and "Holdings Co., Ltd." lose every part).
const LEGAL_FORMS: [&str; 30] = [
    "股份有限公司",
    "有限责任公司",
    "集团有限公司",
    "控股有限公司",
    "有限公司",
    "总公司",
    "集团公司",
    "公司",
    "集团",
    "控股",
    "incorporated",
    "corporation",
    "holdings",
    "limited",
    "company",
    "group",
    "gmbh",
    "corp",
    "inc",
    "ltd",
    "llc",
    "plc",
    "pte",
    "pty",
    "co",
    "ag",
    "sa",
    "bv",
    "kk",
    "oy",
];

/// Places a Chinese company name often starts with (provinces, municipalities and large
/// cities): "北京华远科技" and "华远科技" are usually one company written two ways.
const PLACES: [&str; 46] = [
    "北京",
    "上海",
    "天津",
    "重庆",
    "深圳",
    "广州",
    "杭州",
    "南京",
    "苏州",
    "成都",
    "武汉",
    "西安",
    "长沙",
    "郑州",
    "青岛",
    "厦门",
    "宁波",
    "无锡",
    "合肥",
    "济南",
    "沈阳",
    "大连",
    "福州",
    "昆明",
    "广东",
    "江苏",
    "浙江",
    "山东",
    "河南",
    "河北",
    "湖北",
    "湖南",
    "四川",
    "福建",
    "安徽",
    "辽宁",
    "陕西",
    "江西",
    "广西",
    "云南",
    "贵州",
    "山西",
    "吉林",
    "黑龙江",
    "海南",
    "香港",
];

/// Markers in brackets that say where, not who: "(中国)", "（北京）".
const BRACKETED: [&str; 3] = ["中国", "china", "prc"];

/// The matching key of a company name: width-folded, lower-case, without brackets that
/// only say "China", without punctuation or spaces, and without its legal form.
pub fn company_key(name: &str) -> String {
    let folded = normalize(name)
        .replace(['（', '【', '['], "(")
        .replace(['）', '】', ']'], ")");
    let mut without_marks = String::with_capacity(folded.len());
    let mut rest = folded.as_str();
    while let Some(open) = rest.find('(') {
        without_marks.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(')') {
            Some(close) => {
                let inner = after[..close].trim();
                if !BRACKETED.contains(&inner) {
                    without_marks.push_str(inner);
                }
                rest = &after[close + 1..];
            }
            None => {
                rest = after;
            }
        }
    }
    without_marks.push_str(rest);
    // words first, so "co" is only dropped as a word, never from inside "cisco"
    let mut words: Vec<String> = without_marks
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    while words.len() > 1 {
        let last = words.last().map(String::as_str).unwrap_or_default();
        if LEGAL_FORMS.contains(&last) && last.is_ascii() {
            words.pop();
        } else {
            break;
        }
    }
    let mut key: String = words.concat();
    loop {
        let stripped = LEGAL_FORMS.iter().filter(|f| !f.is_ascii()).find_map(|f| {
            key.strip_suffix(f)
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
        });
        match stripped {
            Some(k) => key = k,
            None => break,
        }
    }
    key
}

/// A company key without a leading place name ("上海华远科技" → "华远科技", "深圳市华远" →
/// "华远"); the key itself when it starts with none, or is nothing but the place.
pub fn without_place(key: &str) -> &str {
    for place in PLACES {
        if let Some(rest) = key.strip_prefix(place) {
            let rest = rest.strip_prefix(['市', '省']).unwrap_or(rest);
            if !rest.is_empty() {
                return rest;
            }
        }
    }
    key
}

/// How alike two company names are, from 0 to 1: 1 for the same key, 0.95 when one is the
/// other with a place name in front, otherwise the Jaro-Winkler similarity of the keys.
pub fn company_similarity(a: &str, b: &str) -> f64 {
    key_similarity(&company_key(a), &company_key(b))
}

/// [`company_similarity`] of two names already in their [`company_key`] form.
pub fn key_similarity(a: &str, b: &str) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    if a == b {
        return 1.0;
    }
    let placed = |long: &str, short: &str| {
        long.strip_suffix(short)
            .is_some_and(|prefix| PLACES.contains(&prefix) || prefix.ends_with('市'))
    };
    if placed(a, b) || placed(b, a) {
        return 0.95;
    }
    strsim::jaro_winkler(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legal_forms_width_case_and_china_markers_do_not_count() {
        let key = company_key("上海华远科技有限公司");
        assert_eq!(key, "上海华远科技");
        for variant in [
            "上海华远科技股份有限公司",
            "上海华远科技（中国）有限公司",
            "上海 华远科技 有限责任公司",
            "上海华远科技集团有限公司",
            "上海华远科技集团",
        ] {
            assert_eq!(company_key(variant), key, "{variant}");
        }
        assert_eq!(
            company_key("Northwind Trading Co., Ltd."),
            "northwindtrading"
        );
        assert_eq!(company_key("NORTHWIND TRADING LIMITED"), "northwindtrading");
        assert_eq!(
            company_key("Ｎｏｒｔｈｗｉｎｄ Trading Inc"),
            "northwindtrading"
        );
        assert_eq!(company_key("Siemens AG"), "siemens");
        assert_eq!(company_key("Cisco Systems"), "ciscosystems");
        // a name that is only a legal form keeps it, rather than becoming empty
        assert_eq!(company_key("公司"), "公司");
        assert_eq!(company_key("Co"), "co");
    }

    #[test]
    fn a_leading_place_name_is_forgiven_but_other_companies_stay_apart() {
        assert_eq!(
            company_similarity("北京华远科技有限公司", "华远科技有限公司"),
            0.95
        );
        assert_eq!(
            company_similarity("华远科技", "深圳市华远科技有限公司"),
            0.95
        );
        assert!(company_similarity("华远科技有限公司", "云帆科技有限公司") < 0.85);
        assert!(company_similarity("Northwind Trading", "Northwind Tradng Ltd") > 0.9);
        assert_eq!(company_similarity("", "华远"), 0.0);
        assert_eq!(without_place("上海华远科技"), "华远科技");
        assert_eq!(without_place("深圳市华远"), "华远");
        assert_eq!(without_place("华远科技"), "华远科技");
        assert_eq!(without_place("上海"), "上海");
    }
}
