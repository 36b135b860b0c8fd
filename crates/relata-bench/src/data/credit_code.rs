//! Unified social credit codes (统一社会信用代码, GB 32100-2015) that pass the account object's
//! check: registration authority and type `91` (an enterprise registered with the market
//! regulator), the region of the account's province, a nine-character organisation code that
//! is different for every account, and the check character.

/// The 31 characters of a credit code, in the order of their values (no I, O, S, V, Z).
const CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// The weight of each of the first 17 characters: 3^i mod 31.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
/// Organisation codes: nine characters of 31, 31⁹ of them.
const CODES: u64 = 31u64.pow(9);
/// Spreads the account indices over the codes (coprime with 31, so no two indices share one).
const SPREAD: u64 = 0x2545_F491_4F6C_DD1D % CODES;

/// The code of account `index`, in the province whose GB/T 2260 prefix is `province` (two
/// digits), with `city` and `district` (1–99) completing the region code.
pub fn credit_code(seed: u64, index: u64, province: &str, city: u64, district: u64) -> String {
    let mut code = format!("91{province}{:02}{:02}", city % 100, district % 100);
    let mut n =
        (((index + 1) % CODES) as u128 * SPREAD as u128 + (seed % CODES) as u128) as u64 % CODES;
    let mut org = [b'0'; 9];
    for c in org.iter_mut().rev() {
        *c = CHARSET[(n % 31) as usize];
        n /= 31;
    }
    code.extend(org.iter().map(|b| char::from(*b)));
    let sum: u32 = code
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| CHARSET.iter().position(|c| *c == b).unwrap_or(0) as u32 * w)
        .sum();
    code.push(char::from(CHARSET[((31 - sum % 31) % 31) as usize]));
    debug_assert_eq!(
        relata_domain::cn::credit_code_problem(&code),
        None,
        "a generated credit code must pass the object's check"
    );
    code
}
