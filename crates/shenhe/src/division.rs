//! Administrative divisions (contract §4.3): whether a submission's division
//! code lies under a credential's division, for the server's jurisdiction.
//!
//! Codes are GB/T 2260 six-digit codes (`14` or `140000` a province,
//! `141000` a prefecture, `141029` a county) and the NBS statistical codes
//! that extend them (9 digits a township, 12 a village). `CN` is national.
//! Trailing zero segments name the level above, so `140000` is `14`,
//! `141000` is `1410` and `350505100000` is the township `350505100`.

/// What a code covers, as the digit prefix every code under it starts with:
/// `Some("")` for `CN`, `None` for text that is not a division code.
#[must_use]
pub fn prefix(code: &str) -> Option<&str> {
    let code = code.trim();
    if code.eq_ignore_ascii_case("CN") {
        return Some("");
    }
    if !code.bytes().all(|b| b.is_ascii_digit()) || !matches!(code.len(), 2 | 4 | 6 | 9 | 12) {
        return None;
    }
    let mut p = code;
    // 12 → 9 → 6 → 4 → 2 digits while the last segment is zeros.
    for (len, seg) in [(12, 3), (9, 3), (6, 2), (4, 2)] {
        if p.len() == len && p[len - seg..].bytes().all(|b| b == b'0') {
            p = &p[..len - seg];
        }
    }
    if p.len() < 2 || p.starts_with("00") { None } else { Some(p) }
}

/// Whether `code` (a submission's division) lies under `division` (a
/// credential's). A national division covers every code, even an unknown
/// one; otherwise an unreadable code is outside.
#[must_use]
pub fn covers(division: &str, code: &str) -> bool {
    match (prefix(division), prefix(code)) {
        (Some(""), _) => true,
        (Some(d), Some(c)) => c.starts_with(d),
        _ => false,
    }
}

/// The level a division code names, for messages: 全国, 省级, 地市级, 县级, 乡级, 村级.
#[must_use]
pub fn level_zh(code: &str) -> &'static str {
    match prefix(code).map(str::len) {
        Some(0) => "全国",
        Some(2) => "省级",
        Some(4) => "地市级",
        Some(6) => "县级",
        Some(9) => "乡级",
        Some(12) => "村级",
        _ => "未知",
    }
}

/// The province-level divisions of GB/T 2260 (and the XPCC, which the NT
/// pack names as a recipient): code, zh-CN name, English name.
const PROVINCES: [(&str, &str, &str); 35] = [
    ("11", "北京市", "Beijing"),
    ("12", "天津市", "Tianjin"),
    ("13", "河北省", "Hebei"),
    ("14", "山西省", "Shanxi"),
    ("15", "内蒙古自治区", "Inner Mongolia"),
    ("21", "辽宁省", "Liaoning"),
    ("22", "吉林省", "Jilin"),
    ("23", "黑龙江省", "Heilongjiang"),
    ("31", "上海市", "Shanghai"),
    ("32", "江苏省", "Jiangsu"),
    ("33", "浙江省", "Zhejiang"),
    ("34", "安徽省", "Anhui"),
    ("35", "福建省", "Fujian"),
    ("36", "江西省", "Jiangxi"),
    ("37", "山东省", "Shandong"),
    ("41", "河南省", "Henan"),
    ("42", "湖北省", "Hubei"),
    ("43", "湖南省", "Hunan"),
    ("44", "广东省", "Guangdong"),
    ("45", "广西壮族自治区", "Guangxi"),
    ("46", "海南省", "Hainan"),
    ("50", "重庆市", "Chongqing"),
    ("51", "四川省", "Sichuan"),
    ("52", "贵州省", "Guizhou"),
    ("53", "云南省", "Yunnan"),
    ("54", "西藏自治区", "Xizang"),
    ("61", "陕西省", "Shaanxi"),
    ("62", "甘肃省", "Gansu"),
    ("63", "青海省", "Qinghai"),
    ("64", "宁夏回族自治区", "Ningxia"),
    ("65", "新疆维吾尔自治区", "Xinjiang"),
    ("71", "台湾省", "Taiwan"),
    ("81", "香港特别行政区", "Hong Kong"),
    ("82", "澳门特别行政区", "Macao"),
    ("XPCC", "新疆生产建设兵团", "Xinjiang Production and Construction Corps"),
];

/// The name of a province-level division (`53` or `530000` → 云南省 /
/// Yunnan), in zh-CN or English; `None` for any other code. Finer names come
/// from a pack or a registry, not from the engine.
#[must_use]
pub fn province_name(code: &str, english: bool) -> Option<&'static str> {
    let code = code.trim();
    let key = if code.eq_ignore_ascii_case("XPCC") {
        "XPCC"
    } else {
        prefix(code).filter(|p| p.len() == 2)?
    };
    PROVINCES.iter().find(|(c, ..)| *c == key).map(|(_, zh, en)| if english { *en } else { *zh })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_province_names() {
        assert_eq!(province_name("53", false), Some("云南省"));
        assert_eq!(province_name("530000", true), Some("Yunnan"));
        assert_eq!(province_name("XPCC", false), Some("新疆生产建设兵团"));
        assert_eq!(province_name("532600", false), None, "a prefecture is not named by the engine");
        assert_eq!(province_name("99", false), None);
        assert_eq!(province_name("CN", false), None);
    }

    #[test]
    fn prefixes_follow_the_hierarchy() {
        assert_eq!(prefix("CN"), Some(""));
        assert_eq!(prefix("14"), Some("14"));
        assert_eq!(prefix("140000"), Some("14"));
        assert_eq!(prefix("141000"), Some("1410"));
        assert_eq!(prefix("141029"), Some("141029"));
        assert_eq!(prefix("350505100"), Some("350505100"));
        assert_eq!(prefix("350505100000"), Some("350505100"));
        assert_eq!(prefix("371002106210"), Some("371002106210"));
        assert_eq!(prefix("371002000000"), Some("371002"));
        for bad in ["", "1", "14a", "1410291", "000000", "某县"] {
            assert_eq!(prefix(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn covers_is_the_prefix_order() {
        assert!(covers("CN", "53") && covers("CN", "not a code"));
        assert!(covers("14", "141029") && covers("140000", "141033") && covers("141000", "141029"));
        assert!(covers("371002", "371002106210") && covers("350505", "350505100000"));
        assert!(!covers("141000", "14"), "a prefecture does not cover its province");
        assert!(!covers("141029", "141033"), "nor a county its neighbour");
        assert!(!covers("14", "53") && !covers("141000", "142000"));
        assert!(!covers("141029", "") && !covers("bad", "141029"));
        assert_eq!(level_zh("141000"), "地市级");
    }
}
