//! Identifier check digits (contract Part B §4.5 and §4.6).

use super::vocab::is_province_code;

/// The outcome of checking an identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdStatus {
    /// Structure and check characters are correct.
    Valid,
    /// A Fujian pilot-era credit code: the outer mod-31 check fails, but the
    /// nested organisation code checks and the code has the pilot shape.
    PilotException,
    /// Wrong length or characters.
    BadFormat,
    /// The birth date inside a resident ID is not a real date.
    BadDate,
    /// The province prefix of a resident ID is not a province.
    BadProvince,
    /// The check character does not match.
    BadCheck,
}

impl IdStatus {
    /// The stable name rule scripts compare against.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::PilotException => "pilot_exception",
            Self::BadFormat => "bad_format",
            Self::BadDate => "bad_date",
            Self::BadProvince => "bad_province",
            Self::BadCheck => "bad_check",
        }
    }
}

/// GB 32100 character set: no I, O, S, V or Z.
const USCC_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Upper-cases and drops spaces and hyphens, the form identifiers are stored in.
#[must_use]
pub fn normalize_id(code: &str) -> String {
    code.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_uppercase).collect()
}

fn uscc_value(c: u8) -> Option<u32> {
    USCC_CHARSET.iter().position(|&x| x == c).and_then(|p| u32::try_from(p).ok())
}

/// The GB 32100 check character for the first 17 characters.
fn uscc_check_char(body: &[u8]) -> Option<u8> {
    let mut weight = 1u32;
    let mut sum = 0u32;
    for &c in body {
        sum += uscc_value(c)? * weight;
        weight = weight * 3 % 31;
    }
    // (31 - 0) % 31 = 0: a sum divisible by 31 gives '0', not an index past the end.
    let idx = (31 - sum % 31) % 31;
    Some(USCC_CHARSET[idx as usize])
}

/// GB 11714 organisation-code check on 9 characters (8 + check).
#[must_use]
pub fn org_code_valid(code: &[u8]) -> bool {
    const WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    if code.len() != 9 {
        return false;
    }
    let mut sum = 0u32;
    for (c, w) in code.iter().take(8).zip(WEIGHTS) {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return false,
        };
        sum += v * w;
    }
    let expected = match 11 - sum % 11 {
        10 => b'X',
        11 => b'0',
        n => b'0' + u8::try_from(n).unwrap_or(0),
    };
    code[8] == expected
}

/// Checks a 统一社会信用代码 (unified social credit code).
#[must_use]
pub fn uscc_status(code: &str) -> IdStatus {
    let code = normalize_id(code);
    let bytes = code.as_bytes();
    if bytes.len() != 18 || bytes.iter().any(|&c| uscc_value(c).is_none()) || !bytes[2..8].iter().all(u8::is_ascii_digit) {
        return IdStatus::BadFormat;
    }
    if uscc_check_char(&bytes[..17]) == Some(bytes[17]) {
        return IdStatus::Valid;
    }
    let pilot_shape = code.starts_with("9135") && bytes[4..8].iter().all(u8::is_ascii_digit) && &bytes[8..12] == b"M000";
    if pilot_shape && org_code_valid(&bytes[8..17]) {
        IdStatus::PilotException
    } else {
        IdStatus::BadCheck
    }
}

/// Checks an 18-digit 公民身份号码 (GB 11643, ISO 7064 MOD 11-2).
#[must_use]
pub fn resident_id_status(id: &str) -> IdStatus {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let id = normalize_id(id);
    let b = id.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) || !(b[17].is_ascii_digit() || b[17] == b'X') {
        return IdStatus::BadFormat;
    }
    if !is_province_code(&id[..2]) {
        return IdStatus::BadProvince;
    }
    let birth = format!("{}-{}-{}", &id[6..10], &id[10..12], &id[12..14]);
    if super::dates::parse_date(&birth).is_none() {
        return IdStatus::BadDate;
    }
    let sum: u32 = b[..17].iter().zip(WEIGHTS).map(|(c, w)| u32::from(c - b'0') * w).sum();
    if CHECK[(sum % 11) as usize] == b[17] {
        IdStatus::Valid
    } else {
        IdStatus::BadCheck
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uscc_contract_vectors() {
        for valid in [
            "91350200776049653A",
            "91440101MA5CJQ4N59",
            "913502000728319549",
            "123502001549897397",
            "91350213678251743X",
        ] {
            assert_eq!(uscc_status(valid), IdStatus::Valid, "{valid}");
        }
        // Sum divisible by 31: the check character is '0'.
        assert_eq!(uscc_status("123502001234567290"), IdStatus::Valid);
        assert_eq!(uscc_check_char(b"12350200123456729"), Some(b'0'));
    }

    #[test]
    fn uscc_fujian_pilot_codes_are_exceptions_not_errors() {
        for pilot in ["91350100M0001TGQXM", "91350211M0000XUF46", "91350203M0001FUE2P"] {
            assert_eq!(uscc_status(pilot), IdStatus::PilotException, "{pilot}");
        }
        // Same shape outside Fujian is a plain check failure.
        assert_eq!(uscc_status("91440100M0001TGQXM"), IdStatus::BadCheck);
    }

    #[test]
    fn uscc_rejects_bad_shapes() {
        assert_eq!(uscc_status("91350200776049653B"), IdStatus::BadCheck);
        assert_eq!(uscc_status("9135020077604965"), IdStatus::BadFormat);
        assert_eq!(uscc_status("91350200776049653I"), IdStatus::BadFormat);
        assert_eq!(uscc_status("9135O200776049653A"), IdStatus::BadFormat);
        assert_eq!(uscc_status(""), IdStatus::BadFormat);
        // Normalisation: lower case, spaces and hyphens.
        assert_eq!(uscc_status("91350200-7760 4965 3a"), IdStatus::Valid);
    }

    #[test]
    fn resident_id_contract_vectors() {
        for valid in [
            "11010519491231002X",
            "360426199101010071",
            "120103198806018241",
            "230306196304054513",
            "11010519491231002x",
        ] {
            assert_eq!(resident_id_status(valid), IdStatus::Valid, "{valid}");
        }
        assert_eq!(resident_id_status("360426199101010072"), IdStatus::BadCheck);
        assert_eq!(resident_id_status("230307196304054513"), IdStatus::BadCheck);
        assert_eq!(resident_id_status("360426199102300071"), IdStatus::BadDate);
        assert_eq!(resident_id_status("990426199101010071"), IdStatus::BadProvince);
        assert_eq!(resident_id_status("36042619910101007"), IdStatus::BadFormat);
    }

    #[test]
    fn org_code_nested_check() {
        assert!(org_code_valid(b"M0001TGQX"));
        assert!(!org_code_valid(b"M0001TGQ1"));
        assert!(!org_code_valid(b"short"));
    }
}
