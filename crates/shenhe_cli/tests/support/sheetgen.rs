//! Synthetic county spreadsheets for the tests, the demo and the benchmark:
//! national medical team rosters and Quangang monthly workload sheets, with
//! the headers of the packs' `columns.toml`.
#![allow(dead_code, reason = "each user takes what it needs")]

use std::path::Path;

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

/// One cell to write.
#[derive(Clone, Debug)]
pub enum Cell {
    S(String),
    N(f64),
    D(u16, u8, u8),
    E,
}

pub fn s(v: &str) -> Cell {
    Cell::S(v.to_owned())
}

pub const NT_HEADERS: [&str; 16] = [
    "队伍编号",
    "阶段",
    "派出医院",
    "统一社会信用代码",
    "受援省份",
    "队员编号",
    "队员姓名",
    "专业类别",
    "岗位",
    "职称级别",
    "工作点机构",
    "工作点级别",
    "工作点区划代码",
    "开始日期",
    "结束日期",
    "方案报送日期",
];

/// Recipient provinces, with a prefecture and a county code in each.
const PROVINCES: [(&str, &str, &str); 5] = [
    ("云南", "532600", "532624"),
    ("贵州", "522600", "522624"),
    ("四川", "513200", "513224"),
    ("甘肃", "621200", "621224"),
    ("西藏", "540100", "540124"),
];

/// `teams` teams of `members` members, two sites each (one prefecture week,
/// two county weeks). Team `i` comes from hospital `i`.
pub fn nt_rows(teams: usize, members: usize) -> Vec<Vec<Cell>> {
    let mut rows = vec![vec![s("2024年国家医疗队队员及工作点汇总表")], NT_HEADERS.iter().map(|h| s(h)).collect()];
    for t in 0..teams {
        for m in 0..members.max(2) {
            let mut r = vec![s(&format!("T{t:04}"))];
            if m == 0 {
                r.extend([s("方案"), s(&format!("委属医院{t:04}")), Cell::E, s(PROVINCES[t % PROVINCES.len()].0)]);
            } else {
                r.extend([Cell::E, Cell::E, Cell::E, Cell::E]);
            }
            if m < members {
                let (title, prof, role) = match m % 5 {
                    0 => ("正高", "医师", "临床"),
                    1 | 2 => ("副高", "医师", "临床"),
                    3 => ("中级", "护士", "临床"),
                    _ => ("中级", "医师", "临床"),
                };
                r.extend([s(&format!("m-{m:02}")), s(&format!("队员{t}-{m}")), s(prof), s(role), s(title)]);
            } else {
                r.extend([Cell::E, Cell::E, Cell::E, Cell::E, Cell::E]);
            }
            let (_, prefecture, county) = PROVINCES[t % PROVINCES.len()];
            match m {
                0 => r.extend([
                    s("某州人民医院"),
                    s("地市"),
                    s(prefecture),
                    Cell::D(2024, 10, 8),
                    Cell::D(2024, 10, 14),
                    Cell::D(2024, 9, 20),
                ]),
                1 => r.extend([s("某县人民医院"), s("县"), s(county), Cell::D(2024, 10, 15), Cell::D(2024, 10, 28), Cell::E]),
                _ => {}
            }
            rows.push(r);
        }
    }
    rows
}

pub const QZ_HEADERS: [&str; 14] = [
    "年份",
    "月份",
    "支援单位",
    "受援单位",
    "受援单位类别",
    "设立专家工作室",
    "专家信息公示",
    "医师编号",
    "医师姓名",
    "职称级别",
    "驻点日期",
    "门诊人次",
    "专题讲座",
    "上报时间",
];

/// Monthly reports of `recipients` institutions for `months` months, two doctors each.
pub fn qz_rows(recipients: &[&str], months: u8) -> Vec<Vec<Cell>> {
    let mut rows = vec![QZ_HEADERS.iter().map(|h| s(h)).collect::<Vec<_>>()];
    for name in recipients {
        for month in 1..=months {
            for d in 0..2 {
                rows.push(vec![
                    Cell::N(2022.0),
                    Cell::N(f64::from(month)),
                    s("泉港区医院"),
                    s(name),
                    s("乡镇卫生院"),
                    s("是"),
                    s("是"),
                    s(&format!("d-{d:02}")),
                    s(if d == 0 { "陈一" } else { "林二" }),
                    s(if d == 0 { "副高" } else { "中级" }),
                    s(&format!("2022/{month}/{}、2022/{month}/{}", 5 + d, 19 + d)),
                    Cell::N(60.0 + f64::from(d)),
                    Cell::N(f64::from(1 - d)),
                    Cell::D(2022, month.min(11) + 1, 5),
                ]);
            }
        }
    }
    rows
}

/// Writes one sheet named `sheet`; `merges` are `(first row, first col, last row, last col)`, 0-based.
pub fn write_xlsx(path: &Path, sheet: &str, rows: &[Vec<Cell>], merges: &[(u32, u16, u32, u16)]) {
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    ws.set_name(sheet).unwrap();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for (r, row) in rows.iter().enumerate() {
        let r = u32::try_from(r).unwrap();
        for (c, cell) in row.iter().enumerate() {
            let c = u16::try_from(c).unwrap();
            if merges.iter().any(|(r0, c0, r1, c1)| r >= *r0 && r <= *r1 && c >= *c0 && c <= *c1) {
                continue;
            }
            match cell {
                Cell::S(v) => {
                    ws.write_string(r, c, v).unwrap();
                }
                Cell::N(v) => {
                    ws.write_number(r, c, *v).unwrap();
                }
                Cell::D(y, m, d) => {
                    ws.write_datetime_with_format(r, c, ExcelDateTime::from_ymd(*y, *m, *d).unwrap(), &date)
                        .unwrap();
                }
                Cell::E => {}
            }
        }
    }
    for (r0, c0, r1, c1) in merges {
        let text = match rows.get(*r0 as usize).and_then(|row| row.get(*c0 as usize)) {
            Some(Cell::S(v)) => v.clone(),
            _ => String::new(),
        };
        ws.merge_range(*r0, *c0, *r1, *c1, &text, &Format::new()).unwrap();
    }
    book.save(path).unwrap();
}

/// The rows as CSV text.
pub fn csv_text(rows: &[Vec<Cell>]) -> String {
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .map(|c| match c {
                Cell::S(v) if v.contains([',', '"', '\n']) => format!("\"{}\"", v.replace('"', "\"\"")),
                Cell::S(v) => v.clone(),
                Cell::N(v) => v.to_string(),
                Cell::D(y, m, d) => format!("{y}-{m:02}-{d:02}"),
                Cell::E => String::new(),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}
