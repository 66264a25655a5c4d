//! Lists which scripts of each pack run compiled, and why the others do not:
//! `cargo run -p shenhe --example compiled_coverage`.

#[path = "../tests/support/mod.rs"]
mod support;

fn main() {
    for id in [
        "national-medical-team-2024",
        "yizhen-week-2022-national",
        "counterpart-support-2022-quanzhou-quangang",
        "village-patrol-2019-weihai-huancui",
        "yizhen-week-2013-shanxi",
    ] {
        let set = support::rule_set(id);
        let pack = set.pack(id).expect("the pack");
        let scripts = pack.compiled_scripts();
        let n = scripts.iter().filter(|(_, why)| why.is_none()).count();
        println!("{id}: {n} of {} scripts compiled", scripts.len());
        for (file, why) in scripts {
            if let Some(why) = why {
                println!("  interpreter: {file}: {why}");
            }
        }
    }
}
