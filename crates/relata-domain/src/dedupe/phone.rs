//! Phone numbers to E.164 (`+8613800138000`), so "138-0013-8000", "+86 138 0013 8000",
//! "0086 13800138000" and "８６１３８００１３８０００" are one number. A number without a country
//! code is read in the installation's default region (China unless configured): a leading
//! trunk `0` is dropped ("010-6552 1234" → `+861065521234`). Extensions are not part of the
//! number.

use crate::search_terms::normalize;

/// How numbers without a country code are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneRegion {
    /// The country calling code, digits only ("86").
    pub country_code: String,
    /// The national trunk prefix dropped after the country code ("0").
    pub trunk_prefix: String,
}

impl Default for PhoneRegion {
    fn default() -> Self {
        Self {
            country_code: "86".into(),
            trunk_prefix: "0".into(),
        }
    }
}

/// The E.164 form of `raw`, or `None` when it holds too few or too many digits to be a
/// phone number (E.164 allows 15 after the `+`).
pub fn to_e164(raw: &str, region: &PhoneRegion) -> Option<String> {
    let folded = normalize(raw);
    let main = main_part(&folded);
    let plus = main.trim_start_matches([' ', '(']).starts_with('+');
    let digits: String = main.chars().filter(char::is_ascii_digit).collect();
    let international = if plus {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_owned()
    } else if region.country_code == "86" && is_cn_mobile_with_code(&digits) {
        // "8613800138000": a Chinese mobile written with its country code but no "+"
        digits
    } else {
        let national = digits
            .strip_prefix(region.trunk_prefix.as_str())
            .filter(|_| !region.trunk_prefix.is_empty())
            .unwrap_or(&digits);
        format!("{}{national}", region.country_code)
    };
    (8..=15)
        .contains(&international.len())
        .then(|| format!("+{international}"))
}

/// The number without its extension, which follows "ext", "x", "转" or "#" and is not part
/// of the number.
fn main_part(folded: &str) -> &str {
    folded
        .split(['x', '#', '转', ','])
        .next()
        .unwrap_or_default()
        .trim_end_matches(|c: char| !c.is_ascii_digit())
}

/// Digits of a number's end that identify it in any region's spelling.
pub const CANDIDATE_DIGITS: usize = 7;

/// The last [`CANDIDATE_DIGITS`] digits of `raw` (without its extension): the same for every
/// spelling of one number — with or without country code, trunk prefix or "00" — and not
/// depending on the region numbers are read in, so stored candidate keys stay valid when the
/// region setting changes. Two numbers with the same key are only candidates: they are the
/// same number when their E.164 forms are equal. `None` for fewer digits than that.
pub fn candidate_key(raw: &str) -> Option<String> {
    let folded = normalize(raw);
    let digits: Vec<char> = main_part(&folded)
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    (CANDIDATE_DIGITS..=17)
        .contains(&digits.len())
        .then(|| digits[digits.len() - CANDIDATE_DIGITS..].iter().collect())
}

fn is_cn_mobile_with_code(digits: &str) -> bool {
    digits.len() == 13
        && digits.starts_with("861")
        && digits
            .as_bytes()
            .get(3)
            .is_some_and(|d| (b'3'..=b'9').contains(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cn(s: &str) -> Option<String> {
        to_e164(s, &PhoneRegion::default())
    }

    #[test]
    fn every_spelling_of_a_number_has_one_candidate_key_in_any_region() {
        let us = PhoneRegion {
            country_code: "1".into(),
            trunk_prefix: "1".into(),
        };
        let spellings = [
            "13800138000",
            "+86 138 0013 8000",
            "0086-138-0013-8000",
            "8613800138000 转 123",
        ];
        for s in spellings {
            assert_eq!(candidate_key(s).as_deref(), Some("0138000"), "{s}");
            // equal E.164 forms always share the key, whatever the region
            for region in [PhoneRegion::default(), us.clone()] {
                let e = to_e164(s, &region).unwrap();
                assert_eq!(candidate_key(&e), candidate_key(s), "{s} in {region:?}");
            }
        }
        assert_eq!(candidate_key("12345"), None);
        assert_eq!(candidate_key("010-6552 1234"), Some("5521234".into()));
    }

    #[test]
    fn chinese_mobiles_in_every_usual_spelling_are_one_number() {
        for s in [
            "13800138000",
            "138-0013-8000",
            "138 0013 8000",
            "+86 138 0013 8000",
            "+86-13800138000",
            "0086 13800138000",
            "8613800138000",
            "１３８００１３８０００",
            "(+86) 138.0013.8000",
        ] {
            assert_eq!(cn(s).as_deref(), Some("+8613800138000"), "{s}");
        }
    }

    #[test]
    fn landlines_drop_the_trunk_zero_and_the_extension() {
        assert_eq!(cn("010-6552 1234").as_deref(), Some("+861065521234"));
        assert_eq!(
            cn("(021) 5080 1234 转 806").as_deref(),
            Some("+862150801234")
        );
        assert_eq!(cn("021-50801234 ext. 12").as_deref(), Some("+862150801234"));
    }

    #[test]
    fn other_countries_keep_their_code_and_other_regions_apply_their_own() {
        assert_eq!(cn("+1 (415) 555-0100").as_deref(), Some("+14155550100"));
        assert_eq!(cn("+44 20 7946 0958").as_deref(), Some("+442079460958"));
        let uk = PhoneRegion {
            country_code: "44".into(),
            trunk_prefix: "0".into(),
        };
        assert_eq!(
            to_e164("020 7946 0958", &uk).as_deref(),
            Some("+442079460958")
        );
    }

    #[test]
    fn what_is_not_a_phone_number_has_no_form() {
        assert_eq!(cn(""), None);
        assert_eq!(cn("12"), None);
        assert_eq!(cn("+1234567890123456789"), None);
    }
}
