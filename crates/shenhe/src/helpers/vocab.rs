//! Reference vocabularies: titles (§4.1), hospital grades and institution
//! types (§4.2), and administrative division codes (§4.3).

/// Rank of a title: 5 正高 … 1 士级, 0 none. Accepts the engine's
/// `title_level` enum or a GB/T 8561 health-series code (231–265).
/// `None` when the value is not a known title.
#[must_use]
pub fn title_rank(value: &str) -> Option<i64> {
    match value.trim() {
        "senior_full" => Some(5),
        "senior_associate" => Some(4),
        "intermediate" => Some(3),
        "junior" => Some(2),
        "entry" => Some(1),
        "none" => Some(0),
        code => title_level_of_code(code).and_then(title_rank),
    }
}

/// The `title_level` for a GB/T 8561 health-series code, e.g. `232` → `senior_associate`.
/// Series headers (230, 240, 250, 260) are categories, not titles.
#[must_use]
pub fn title_level_of_code(code: &str) -> Option<&'static str> {
    let b = code.as_bytes();
    if b.len() != 3 || b[0] != b'2' || !(b'3'..=b'6').contains(&b[1]) {
        return None;
    }
    match b[2] {
        b'1' => Some("senior_full"),
        b'2' => Some("senior_associate"),
        b'3' => Some("intermediate"),
        b'4' => Some("junior"),
        b'5' => Some("entry"),
        _ => None,
    }
}

/// Hospital grade level (一/二/三级): 1, 2 or 3.
#[must_use]
pub fn grade_level_valid(level: i64) -> bool {
    (1..=3).contains(&level)
}

/// Hospital grade class: 特等, 甲, 乙, 丙, or unrated.
#[must_use]
pub fn grade_class_valid(class: &str) -> bool {
    matches!(class, "special" | "A" | "B" | "C" | "unrated")
}

/// Shape of a WS 218-2002 institution-type code (`A100`, `C210`, …).
#[must_use]
pub fn inst_type_well_formed(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 4 && b[0].is_ascii_uppercase() && b[1..].iter().all(u8::is_ascii_digit)
}

/// Specialty hospitals (A220–A229, A4xx, A5xx), for NT-02.
#[must_use]
pub fn is_specialty_inst(code: &str) -> bool {
    inst_type_well_formed(code) && (code.starts_with("A22") || code.starts_with("A4") || code.starts_with("A5"))
}

/// Grassroots institutions: community centres and stations, township health centres, village clinics.
#[must_use]
pub fn is_grassroots_inst(code: &str) -> bool {
    matches!(code, "B100" | "B200" | "C100" | "C210" | "C220" | "D600")
}

/// GB/T 2260 province-level codes (two digits).
#[must_use]
pub fn is_province_code(code: &str) -> bool {
    matches!(
        code,
        "11" | "12"
            | "13"
            | "14"
            | "15"
            | "21"
            | "22"
            | "23"
            | "31"
            | "32"
            | "33"
            | "34"
            | "35"
            | "36"
            | "37"
            | "41"
            | "42"
            | "43"
            | "44"
            | "45"
            | "46"
            | "50"
            | "51"
            | "52"
            | "53"
            | "54"
            | "61"
            | "62"
            | "63"
            | "64"
            | "65"
            | "71"
            | "81"
            | "82"
    )
}

/// A division code: 2 (province), 6 (GB/T 2260) or 12 digits (NBS
/// statistical code), starting with a real province code.
#[must_use]
pub fn division_well_formed(code: &str) -> bool {
    matches!(code.len(), 2 | 6 | 12) && code.bytes().all(|c| c.is_ascii_digit()) && is_province_code(&code[..2])
}

/// The significant prefix of a division code: `141000` → `1410`, `140000` → `14`,
/// `350505100000` → `350505100`.
#[must_use]
pub fn division_prefix(code: &str) -> &str {
    let mut end = code.len();
    // Strip zero groups from the right: 3-digit groups in the NBS tail, then 2-digit groups.
    while end > 6 && code[..end].ends_with("000") {
        end -= 3;
    }
    while end > 2 && end <= 6 && code[..end].ends_with("00") {
        end -= 2;
    }
    &code[..end]
}

/// True when `child` lies inside `parent` (a child code starts with its
/// parent's significant prefix). Both must be well formed.
#[must_use]
pub fn division_within(child: &str, parent: &str) -> bool {
    division_well_formed(child) && division_well_formed(parent) && child.starts_with(division_prefix(parent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocab_title_ranks() {
        assert_eq!(title_rank("senior_full"), Some(5));
        assert_eq!(title_rank("232"), Some(4));
        assert_eq!(title_rank("253"), Some(3));
        assert_eq!(title_rank("264"), Some(2));
        assert_eq!(title_rank("235"), Some(1));
        assert_eq!(title_rank("none"), Some(0));
        assert_eq!(title_rank("230"), None);
        assert_eq!(title_rank("271"), None);
        assert_eq!(title_rank("chief"), None);
        assert_eq!(title_level_of_code("241"), Some("senior_full"));
    }

    #[test]
    fn vocab_institutions_and_grades() {
        assert!(is_specialty_inst("A511"));
        assert!(is_specialty_inst("A220"));
        assert!(!is_specialty_inst("A100"));
        assert!(!is_specialty_inst("A210"));
        assert!(is_grassroots_inst("C210"));
        assert!(!is_grassroots_inst("A100"));
        assert!(grade_level_valid(2) && !grade_level_valid(4) && !grade_level_valid(0));
        assert!(grade_class_valid("A") && !grade_class_valid("D"));
    }

    #[test]
    fn vocab_division_hierarchy() {
        assert!(division_well_formed("141029"));
        assert!(division_well_formed("371002100200"));
        assert!(!division_well_formed("991029"));
        assert!(!division_well_formed("14102"));
        assert_eq!(division_prefix("141000"), "1410");
        assert_eq!(division_prefix("140000"), "14");
        assert_eq!(division_prefix("350505100000"), "350505100");
        assert!(division_within("141029", "141000"));
        assert!(division_within("141029", "14"));
        assert!(!division_within("141029", "53"));
        assert!(division_within("371002100200", "371002"));
        assert!(!division_within("371003100200", "371002"));
    }
}
