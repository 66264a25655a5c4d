//! Spreadsheets as counties send them: a pack's `columns.toml` maps the
//! Chinese column headers onto form fields, and rows become submissions,
//! one per row or grouped into a repeat by key columns.
//!
//! The core reads no files. Hosts (the CLI reads CSV and `.xlsx`) hand it
//! rows of [`CellValue`]s; it finds the header row, builds each submission
//! and remembers which cell every field came from, so a finding can cite
//! `Sheet1!D7` next to its JSON Pointer. Rows stream through: only the rows
//! of the group being built are held.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{
    input::{normalize_number, number_value, path_tokens, set_path},
    pointer::escape_into,
};

/// One cell, as a host read it.
#[derive(Debug, Clone, PartialEq)]
pub enum CellValue {
    /// Nothing in the cell.
    Empty,
    /// Text as typed.
    Text(String),
    /// A whole number stored as a number.
    Int(i64),
    /// A number with a fraction.
    Float(f64),
    /// TRUE / FALSE.
    Bool(bool),
    /// A date cell, already an ISO `YYYY-MM-DD` civil date.
    Date(String),
}

impl CellValue {
    fn is_empty(&self) -> bool {
        match self {
            Self::Empty => true,
            Self::Text(t) => t.trim().is_empty(),
            _ => false,
        }
    }

    /// The cell as text (what a person sees in it).
    #[must_use]
    pub fn display(&self) -> String {
        match self {
            Self::Empty => String::new(),
            Self::Text(t) => t.trim().to_owned(),
            Self::Int(i) => i.to_string(),
            Self::Float(f) => number_text(*f),
            Self::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
            Self::Date(d) => d.clone(),
        }
    }
}

/// A float as a person reads it: whole values without `.0`.
fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        #[allow(clippy::cast_possible_truncation, reason = "whole and below 2^53")]
        let i = f as i64;
        i.to_string()
    } else {
        f.to_string()
    }
}

/// How a column's cells become JSON values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// Text, trimmed; numbers are written as their digits.
    #[default]
    Text,
    /// A number, normalised as typed numbers are (A6); text that does not
    /// parse stays text, so the schema reports it at the field.
    Number,
    /// Yes or no, in the words of `input::parse_bool` (是/否, 有/无, √/×, yes/no, 1/0 …).
    Boolean,
    /// A civil date; `2024/9/1`, `2024.9.1` and `2024年9月1日` become `2024-09-01`.
    Date,
    /// A point in time (RFC 3339). A date alone is read as 00:00 Shanghai
    /// time that day (A4: every civil date is Asia/Shanghai).
    Timestamp,
    /// Several values in one cell, split on `、 , ， ; ；` and spaces.
    List,
    /// Like `list`, each item read as a date.
    Dates,
}

/// One column of `columns.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// The header as counties write it (`派出医院`).
    pub header: String,
    /// Other spellings of the header that mean the same column.
    #[serde(default)]
    pub also: Vec<String>,
    /// Where the value goes. One `*` marks a repeat: rows of a group fill
    /// its items in order (`/members/*/name`). Empty for a column that only
    /// keys the groups (a team number the form does not store).
    #[serde(default)]
    pub path: String,
    /// How cells are read.
    #[serde(default, rename = "type")]
    pub kind: ColumnType,
    /// A sheet without this column is refused (default `true`).
    #[serde(default = "yes")]
    pub required: bool,
    /// What people write, and the code the form stores (`"医师" = "physician"`).
    /// Text not listed is kept as written, so the schema reports it.
    #[serde(default)]
    pub values: Map<String, Value>,
}

const fn yes() -> bool {
    true
}

/// A pack's `columns.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Rows with the same values in these columns form one submission;
    /// empty means one submission per row. Rows of a group must be adjacent;
    /// a row whose key cells are all blank continues the group above it.
    #[serde(default)]
    pub group_by: Vec<String>,
    /// Values set in every submission built from a sheet (form, policy).
    #[serde(default)]
    pub fixed: Map<String, Value>,
    /// The columns.
    #[serde(rename = "column")]
    pub columns: Vec<ColumnSpec>,
}

/// Why a sheet cannot be read with a mapping.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SheetError {
    /// `columns.toml` itself is wrong.
    #[error("{0}")]
    Mapping(String),
    /// The required headers were not found in the first rows.
    #[error(
        "{sheet}: 缺少必填列 missing required column(s) {}; the best header row found is row {row}, with columns: {}",
        missing.join("、"),
        found.join("、")
    )]
    MissingColumns {
        /// Sheet name.
        sheet: String,
        /// Headers not found.
        missing: Vec<String>,
        /// 1-based row that matched best.
        row: u32,
        /// Headers on that row.
        found: Vec<String>,
    },
}

/// Rows searched for the header row.
pub const HEADER_SEARCH_ROWS: usize = 20;

fn clean_header(h: &str) -> String {
    h.chars().filter(|c| !c.is_whitespace() && !matches!(c, '*' | '＊')).collect()
}

impl Mapping {
    /// Reads a pack's `columns.toml` (as JSON) and checks it.
    pub fn from_value(v: &Value) -> Result<Self, SheetError> {
        let m: Self = serde_json::from_value(v.clone()).map_err(|e| SheetError::Mapping(e.to_string()))?;
        for c in &m.columns {
            let stars = path_tokens(&c.path).iter().filter(|t| *t == "*").count();
            if stars > 1 {
                return Err(SheetError::Mapping(format!("column {}: path {} has more than one `*`", c.header, c.path)));
            }
        }
        for g in &m.group_by {
            if !m.columns.iter().any(|c| &c.header == g) {
                return Err(SheetError::Mapping(format!("group_by names {g}, which is not a column")));
            }
        }
        Ok(m)
    }

    fn matches(spec: &ColumnSpec, header: &str) -> bool {
        let h = clean_header(header);
        !h.is_empty() && (clean_header(&spec.header) == h || spec.also.iter().any(|a| clean_header(a) == h))
    }

    /// How many required headers a row has (to pick the header row).
    fn score(&self, row: &[CellValue]) -> usize {
        self.columns
            .iter()
            .filter(|c| c.required && row.iter().any(|cell| Self::matches(c, &cell.display())))
            .count()
    }

    /// Finds the header row among the first rows of a sheet (`(1-based row,
    /// cells)`), and where each mapped column is.
    pub fn locate(&self, sheet: &str, rows: &[(u32, Vec<CellValue>)]) -> Result<Layout, SheetError> {
        let required = self.columns.iter().filter(|c| c.required).count();
        let best = rows.iter().take(HEADER_SEARCH_ROWS).max_by_key(|(n, r)| (self.score(r), std::cmp::Reverse(*n)));
        let Some((row, cells)) = best else {
            return Err(SheetError::MissingColumns {
                sheet: sheet.to_owned(),
                missing: self.columns.iter().filter(|c| c.required).map(|c| c.header.clone()).collect(),
                row: 1,
                found: Vec::new(),
            });
        };
        if self.score(cells) < required {
            return Err(SheetError::MissingColumns {
                sheet: sheet.to_owned(),
                missing: self
                    .columns
                    .iter()
                    .filter(|c| c.required && !cells.iter().any(|cell| Self::matches(c, &cell.display())))
                    .map(|c| c.header.clone())
                    .collect(),
                row: *row,
                found: cells.iter().map(CellValue::display).filter(|h| !h.is_empty()).collect(),
            });
        }
        let mut columns = Vec::new();
        for (i, spec) in self.columns.iter().enumerate() {
            if let Some(col) = cells.iter().position(|cell| Self::matches(spec, &cell.display())) {
                columns.push((col, i));
            }
        }
        let group = self
            .group_by
            .iter()
            .filter_map(|g| columns.iter().find(|(_, i)| &self.columns[*i].header == g).map(|(c, _)| *c))
            .collect();
        Ok(Layout {
            header_row: *row,
            columns,
            group,
        })
    }
}

/// Where the mapped columns are in one sheet.
#[derive(Debug, Clone)]
pub struct Layout {
    /// 1-based header row; data starts below it.
    pub header_row: u32,
    /// `(0-based sheet column, index into the mapping's columns)`.
    columns: Vec<(usize, usize)>,
    /// Sheet columns of the group key.
    group: Vec<usize>,
}

/// `A`, `B`, …, `Z`, `AA` for a 0-based column.
#[must_use]
pub fn column_name(mut col: usize) -> String {
    let mut out = Vec::new();
    loop {
        #[allow(clippy::cast_possible_truncation, reason = "always below 26")]
        out.push(b'A' + (col % 26) as u8);
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// `Sheet1!D7`.
#[must_use]
pub fn cell_ref(sheet: &str, row: u32, col: usize) -> String {
    format!("{sheet}!{}{row}", column_name(col))
}

/// Which cells a submission was built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceMap {
    /// Sheet name (the file name for CSV).
    pub sheet: String,
    /// First and last 1-based rows of the group.
    pub rows: (u32, u32),
    /// The group key as written, or the row number.
    pub key: String,
    /// `(JSON Pointer, 1-based row, 0-based column)` of every value set.
    cells: Vec<(String, u32, usize)>,
}

impl SourceMap {
    /// Keeps only the cells of fields outside repeats (no index in their
    /// pointer): what a finding about the whole submission cites, in a
    /// fraction of the memory, for a batch that keeps one per submission.
    #[must_use]
    pub fn header_only(mut self) -> Self {
        self.cells
            .retain(|(p, _, _)| !p.split('/').any(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())));
        self.cells.shrink_to_fit();
        self
    }

    /// The rows, `Sheet1!3:7` (or `Sheet1!3:3`).
    #[must_use]
    pub fn rows_ref(&self) -> String {
        format!("{}!{}:{}", self.sheet, self.rows.0, self.rows.1)
    }

    /// The cell (or range) a finding at `path` points to: the field's own
    /// cell; else the cells of the fields under it; else the nearest field
    /// above it that came from a cell; else the group's rows.
    #[must_use]
    pub fn cite(&self, path: &str) -> String {
        let mut p = path;
        loop {
            if let Some((_, r, c)) = self.cells.iter().find(|(q, _, _)| q == p) {
                return cell_ref(&self.sheet, *r, *c);
            }
            let prefix = format!("{p}/");
            let under: Vec<_> = self.cells.iter().filter(|(q, _, _)| q.starts_with(&prefix)).collect();
            if !under.is_empty() {
                let (r0, r1) = under.iter().fold((u32::MAX, 0), |(a, b), (_, r, _)| (a.min(*r), b.max(*r)));
                let (c0, c1) = under.iter().fold((usize::MAX, 0), |(a, b), (_, _, c)| (a.min(*c), b.max(*c)));
                if r0 == r1 && c0 == c1 {
                    return cell_ref(&self.sheet, r0, c0);
                }
                return format!("{}:{}{r1}", cell_ref(&self.sheet, r0, c0), column_name(c1));
            }
            match p.rfind('/') {
                Some(i) if !p.is_empty() => p = &p[..i],
                _ => return self.rows_ref(),
            }
        }
    }
}

/// A submission built from sheet rows.
#[derive(Debug, Clone)]
pub struct Built {
    /// The submission.
    pub submission: Value,
    /// Where its values came from.
    pub source: SourceMap,
}

struct Group {
    key: Vec<String>,
    first: u32,
    last: u32,
    doc: Value,
    cells: Vec<(String, u32, usize)>,
    /// Items so far per repeat path (the part before `*`).
    counts: Vec<(String, usize)>,
}

/// Turns data rows into submissions, one group at a time.
pub struct Grouper<'m> {
    mapping: &'m Mapping,
    layout: Layout,
    sheet: String,
    current: Option<Group>,
}

impl<'m> Grouper<'m> {
    /// Starts building submissions from the rows below `layout.header_row`.
    #[must_use]
    pub fn new(mapping: &'m Mapping, layout: Layout, sheet: &str) -> Self {
        Self {
            mapping,
            layout,
            sheet: sheet.to_owned(),
            current: None,
        }
    }

    /// Takes one data row (1-based row number); returns the submission it
    /// completes, if the row starts a new group. Blank rows are skipped.
    pub fn push(&mut self, row: u32, cells: &[CellValue]) -> Option<Built> {
        if row <= self.layout.header_row {
            return None;
        }
        let cell = |c: usize| cells.get(c).unwrap_or(&CellValue::Empty);
        if self.layout.columns.iter().all(|(c, _)| cell(*c).is_empty()) {
            return None;
        }
        let key: Vec<String> = if self.layout.group.is_empty() {
            vec![row.to_string()]
        } else {
            self.layout.group.iter().map(|c| cell(*c).display()).collect()
        };
        // A blank key continues the group above: counties often write the
        // key on a group's first row only (what is left of an unmerged cell).
        let continues = !self.layout.group.is_empty() && key.iter().all(String::is_empty) && self.current.is_some();
        let done = match &self.current {
            Some(g) if g.key == key || continues => None,
            _ => self.take(),
        };
        let group = self.current.get_or_insert_with(|| Group {
            key,
            first: row,
            last: row,
            doc: Value::Object(self.mapping.fixed.clone()),
            cells: Vec::new(),
            counts: Vec::new(),
        });
        group.last = row;
        // Which repeats this row adds an item to: those with a value here.
        let mut items: Vec<(String, usize)> = Vec::new();
        for &(col, i) in &self.layout.columns {
            let spec = &self.mapping.columns[i];
            if spec.path.is_empty() {
                continue;
            }
            let Some(mut value) = convert(spec.kind, cell(col)) else { continue };
            if let Value::String(t) = &value
                && let Some(code) = spec.values.get(t.as_str())
            {
                value = code.clone();
            }
            let tokens = path_tokens(&spec.path);
            let pointer = if let Some(star) = tokens.iter().position(|t| t == "*") {
                let mut repeat = String::new();
                for t in &tokens[..star] {
                    repeat.push('/');
                    escape_into(&mut repeat, t);
                }
                let index = match items.iter().find(|(r, _)| *r == repeat) {
                    Some((_, n)) => *n,
                    None => {
                        let n = match group.counts.iter_mut().find(|(r, _)| *r == repeat) {
                            Some((_, n)) => {
                                *n += 1;
                                *n - 1
                            }
                            None => {
                                group.counts.push((repeat.clone(), 1));
                                0
                            }
                        };
                        items.push((repeat.clone(), n));
                        n
                    }
                };
                let mut p = repeat;
                p.push_str(&format!("/{index}"));
                for t in &tokens[star + 1..] {
                    p.push('/');
                    escape_into(&mut p, t);
                }
                p
            } else {
                // A header field: the first row that fills it wins.
                let p = crate::input::to_pointer(&spec.path);
                if group.cells.iter().any(|(q, _, _)| *q == p) {
                    continue;
                }
                p
            };
            set_path(&mut group.doc, &pointer, value);
            group.cells.push((pointer, row, col));
        }
        done
    }

    /// The last submission, once every row has been pushed.
    pub fn finish(&mut self) -> Option<Built> {
        self.take()
    }

    fn take(&mut self) -> Option<Built> {
        let g = self.current.take()?;
        Some(Built {
            submission: g.doc,
            source: SourceMap {
                sheet: self.sheet.clone(),
                rows: (g.first, g.last),
                key: g.key.join(" / "),
                cells: g.cells,
            },
        })
    }
}

/// A cell as the column's type reads it; `None` leaves the field out.
fn convert(kind: ColumnType, cell: &CellValue) -> Option<Value> {
    if cell.is_empty() {
        return None;
    }
    Some(match (kind, cell) {
        (ColumnType::Number, CellValue::Int(i)) => Value::from(*i),
        (ColumnType::Number, CellValue::Float(f)) => number_value(*f),
        (ColumnType::Number, other) => normalize_number(&other.display())?,
        (ColumnType::Boolean, CellValue::Bool(b)) => Value::Bool(*b),
        (ColumnType::Boolean, other) => {
            let t = other.display();
            crate::input::parse_bool(&t).map_or(Value::String(t), Value::Bool)
        }
        (ColumnType::Date, other) => Value::String(date_text(&other.display())),
        (ColumnType::Timestamp, other) => {
            let d = date_text(&other.display());
            Value::String(if crate::helpers::dates::parse_date(&d).is_some() {
                format!("{d}T00:00:00+08:00")
            } else {
                d
            })
        }
        (ColumnType::List | ColumnType::Dates, other) => Value::Array(
            other
                .display()
                .split(['、', ',', '，', ';', '；', ' ', '\n', '\u{3000}'])
                .filter(|s| !s.trim().is_empty())
                .map(|s| Value::String(if kind == ColumnType::Dates { date_text(s) } else { s.trim().to_owned() }))
                .collect(),
        ),
        (ColumnType::Text, other) => Value::String(other.display()),
    })
}

/// `2024/9/1`, `2024.9.1`, `2024年9月1日` → `2024-09-01`; anything else is
/// kept as written for the schema and rules to judge.
fn date_text(s: &str) -> String {
    let t = s.trim();
    let parts: Vec<&str> = t.trim_end_matches('日').split(['-', '/', '.', '年', '月']).collect();
    if let [y, m, d] = parts.as_slice()
        && y.len() == 4
        && [y, m, d].iter().all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
        && m.len() <= 2
        && d.len() <= 2
    {
        return format!("{y}-{m:0>2}-{d:0>2}");
    }
    t.to_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn t(s: &str) -> CellValue {
        CellValue::Text(s.into())
    }

    fn mapping() -> Mapping {
        Mapping::from_value(&json!({
            "group_by": ["队伍编号"],
            "fixed": {"form": "f"},
            "column": [
                {"header": "队伍编号", "path": "/team_id"},
                {"header": "派出医院", "also": ["派出单位"], "path": "/hospital/name"},
                {"header": "队员姓名", "path": "/members/*/name"},
                {"header": "在岗天数", "path": "/members/*/days", "type": "number"},
                {"header": "备注", "path": "/note", "required": false},
            ]
        }))
        .unwrap()
    }

    #[test]
    fn groups_rows_into_repeats_and_cites_cells() {
        let m = mapping();
        let rows = vec![
            (1, vec![t("2024年国家医疗队")]),
            (2, vec![t("队伍编号"), t("派出单位 *"), t("队员姓名"), t("在岗天数")]),
        ];
        let layout = m.locate("Sheet1", &rows).unwrap();
        assert_eq!(layout.header_row, 2);
        let mut g = Grouper::new(&m, layout, "Sheet1");
        assert!(g.push(3, &[t("T1"), t("某医院"), t("张一"), CellValue::Float(21.0)]).is_none());
        assert!(g.push(4, &[t("T1"), CellValue::Empty, t("李二"), t("２１x")]).is_none());
        assert!(g.push(5, &[CellValue::Empty, CellValue::Empty, CellValue::Empty]).is_none());
        let first = g.push(6, &[t("T2"), t("另一医院"), t("王三"), CellValue::Int(3)]).unwrap();
        assert_eq!(
            first.submission,
            json!({"form": "f", "team_id": "T1", "hospital": {"name": "某医院"},
                   "members": [{"name": "张一", "days": 21}, {"name": "李二", "days": "２１x"}]})
        );
        assert_eq!(first.source.cite("/members/1/days"), "Sheet1!D4");
        assert_eq!(first.source.cite("/members/1"), "Sheet1!C4:D4");
        assert_eq!(first.source.cite("/members"), "Sheet1!C3:D4");
        assert_eq!(first.source.cite("/hospital/name/x"), "Sheet1!B3");
        assert_eq!(first.source.cite("/sites/0"), "Sheet1!A3:D4", "the whole group");
        let header = first.source.clone().header_only();
        assert_eq!(header.cite("/hospital/name"), "Sheet1!B3");
        assert_eq!(
            header.cite("/members/1/days"),
            "Sheet1!A3:B3",
            "repeat cells are dropped; the header cells remain"
        );
        let second = g.finish().unwrap();
        assert_eq!(second.source.rows, (6, 6));
        assert_eq!(second.source.key, "T2");
    }

    #[test]
    fn a_blank_key_continues_the_group_above() {
        let m = mapping();
        let rows = vec![(1, vec![t("队伍编号"), t("派出医院"), t("队员姓名"), t("在岗天数")])];
        let mut g = Grouper::new(&m, m.locate("Sheet1", &rows).unwrap(), "Sheet1");
        assert!(g.push(2, &[t("T1"), t("某医院"), t("张一")]).is_none());
        assert!(g.push(3, &[CellValue::Empty, CellValue::Empty, t("李二")]).is_none());
        let first = g.push(4, &[t("T2"), t("另一医院"), t("王三")]).unwrap();
        assert_eq!(first.submission["members"], json!([{"name": "张一"}, {"name": "李二"}]));
        assert_eq!(first.source.rows, (2, 3));
        assert_eq!(g.finish().unwrap().source.key, "T2");
    }

    #[test]
    fn missing_columns_name_the_sheet_and_the_headers() {
        let m = mapping();
        let err = m.locate("表1", &[(1, vec![t("队伍编号"), t("队员姓名")])]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("表1") && text.contains("派出医院") && text.contains("在岗天数"), "{text}");
        assert!(!text.contains("备注"), "optional columns are not required: {text}");
    }

    #[test]
    fn cells_are_read_by_type() {
        assert_eq!(convert(ColumnType::Date, &t("2024/9/1")), Some(json!("2024-09-01")));
        assert_eq!(convert(ColumnType::Date, &t("2024年10月8日")), Some(json!("2024-10-08")));
        assert_eq!(convert(ColumnType::Date, &t("九月")), Some(json!("九月")));
        assert_eq!(
            convert(ColumnType::Timestamp, &CellValue::Date("2024-09-20".into())),
            Some(json!("2024-09-20T00:00:00+08:00"))
        );
        assert_eq!(
            convert(ColumnType::Timestamp, &t("2024-09-20T10:00:00+08:00")),
            Some(json!("2024-09-20T10:00:00+08:00"))
        );
        assert_eq!(convert(ColumnType::Number, &t("１，２００")), Some(json!(1200)));
        assert_eq!(convert(ColumnType::Number, &CellValue::Float(2.5)), Some(json!(2.5)));
        assert_eq!(convert(ColumnType::Boolean, &t("是")), Some(json!(true)));
        assert_eq!(
            convert(ColumnType::Dates, &t("2022/3/1、2022-03-15")),
            Some(json!(["2022-03-01", "2022-03-15"]))
        );
        assert_eq!(convert(ColumnType::Text, &CellValue::Float(350_505.0)), Some(json!("350505")));
        assert_eq!(convert(ColumnType::Text, &t("  ")), None);
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(25), "Z");
        assert_eq!(column_name(26), "AA");
        assert_eq!(column_name(701), "ZZ");
        assert_eq!(column_name(702), "AAA");
    }
}
