//! Writes synthetic county spreadsheets for the demo and the benchmark:
//!
//! ```text
//! cargo run --release -p shenhe_cli --example make_sheets -- OUT_DIR [TEAMS]
//! ```
//!
//! OUT_DIR/nt-teams.xlsx: TEAMS national medical teams (default 2,000) of 5
//! rows each (10,000 data rows); OUT_DIR/nt-teams.csv: the same as CSV;
//! OUT_DIR/qz-monthly.xlsx: 12 months of 3 Quangang recipients.
#![allow(clippy::disallowed_methods, reason = "a generator writes files")]

#[path = "../tests/support/sheetgen.rs"]
mod sheetgen;

fn main() {
    let mut args = std::env::args().skip(1);
    let out = std::path::PathBuf::from(args.next().unwrap_or_else(|| "target/sheets".into()));
    let teams: usize = args.next().and_then(|t| t.parse().ok()).unwrap_or(2_000);
    std::fs::create_dir_all(&out).expect("create the output directory");
    let nt = sheetgen::nt_rows(teams, 5);
    sheetgen::write_xlsx(&out.join("nt-teams.xlsx"), "Sheet1", &nt, &[(0, 0, 0, 10)]);
    std::fs::write(out.join("nt-teams.csv"), sheetgen::csv_text(&nt)).expect("write the CSV");
    let qz = sheetgen::qz_rows(&["南埔镇卫生院", "山腰街道社区卫生服务中心", "界山镇卫生院"], 12);
    sheetgen::write_xlsx(&out.join("qz-monthly.xlsx"), "月报", &qz, &[]);
    #[allow(clippy::print_stdout, reason = "tells where the files went")]
    {
        println!("{} data rows → {}", nt.len() - 2, out.display());
    }
}
