//! Snapshots of what people read: plans, destroy plans and diff reports, with and without
//! colour. Built from the pure planner, so no AWS is involved.

use std::collections::BTreeMap;
use std::path::Path;

use super::render;
use crate::output::Printer;
use crate::plan::desired::{self, ids, Target};
use crate::plan::{self, Props, Resource};
use crate::spec;

fn stack(extra: &str) -> spec::Stack {
    let text = format!(
        "stack: demo\nbucket:\n  cors:\n    - allowed_origins: [\"https://app.example.com\"]\n      allowed_methods: [PUT]\n{extra}"
    );
    spec::parse(Path::new("stack.yaml"), &text).unwrap()
}

fn target() -> Target {
    Target {
        region: "eu-west-1".into(),
        account_id: "111122223333".into(),
        code_sha256: "c2hhMjU2".into(),
    }
}

fn printer(color: bool) -> Printer {
    let (mut p, _, _) = Printer::capture();
    p.color = color;
    p
}

fn recorded(rs: &[Resource]) -> BTreeMap<String, crate::state::RecordedResource> {
    rs.iter()
        .map(|r| (r.id.clone(), plan::record_of(r)))
        .collect()
}

fn live(rs: &[Resource]) -> BTreeMap<String, Option<Props>> {
    rs.iter()
        .map(|r| (r.id.clone(), Some(r.props.clone())))
        .collect()
}

const HEADER: &str = "Stack \"demo\" in eu-west-1 (state: .presign-stack/demo.json)";

#[test]
fn create_plan() {
    let d = desired::whole_stack(&stack(""), &target());
    let p = plan::plan_deploy(&d, &BTreeMap::new(), &BTreeMap::new());
    for color in [false, true] {
        insta::assert_snapshot!(
            format!("create_plan_color_{color}"),
            render::plan(&printer(color), HEADER, &p)
        );
    }
}

#[test]
fn update_and_replace_plan() {
    let before = desired::whole_stack(&stack(""), &target());
    let after_spec = stack(
        "  public_read:\n    prefix: public/\nfunction:\n  name: demo-renamed\n  memory_mb: 256\n",
    );
    let after = desired::whole_stack(&after_spec, &target());
    let p = plan::plan_deploy(&after, &recorded(&before), &live(&before));
    for color in [false, true] {
        insta::assert_snapshot!(
            format!("update_plan_color_{color}"),
            render::plan(&printer(color), HEADER, &p)
        );
    }
}

#[test]
fn destroy_plan() {
    let d = desired::whole_stack(&stack(""), &target());
    let p = plan::plan_destroy(&recorded(&d));
    for color in [false, true] {
        insta::assert_snapshot!(
            format!("destroy_plan_color_{color}"),
            render::plan(&printer(color), HEADER, &p)
        );
    }
}

#[test]
fn diff_with_drift_and_pending_changes() {
    let applied = desired::whole_stack(&stack(""), &target());
    let mut now = live(&applied);
    now.insert(ids::CORS.into(), None);
    if let Some(Some(Props::LambdaFunction(f))) = now.get_mut(ids::FUNCTION) {
        f.memory_mb = 512;
        f.environment
            .insert("PRESIGN_BUCKET".into(), "someone-elses".into());
    }
    let wanted = desired::whole_stack(&stack("  versioning: true\n"), &target());
    let report = plan::diff(&wanted, &recorded(&applied), &now);
    for color in [false, true] {
        insta::assert_snapshot!(
            format!("diff_color_{color}"),
            render::diff(&printer(color), "demo", &report)
        );
    }
    let clean = plan::diff(&applied, &recorded(&applied), &live(&applied));
    insta::assert_snapshot!(
        "diff_in_sync",
        render::diff(&printer(false), "demo", &clean)
    );
}

#[test]
fn durations_read_as_people_write_them() {
    use std::time::Duration;
    assert_eq!(super::duration(Duration::from_millis(0)), "0 ms");
    assert_eq!(super::duration(Duration::from_millis(42)), "42 ms");
    assert_eq!(super::duration(Duration::from_millis(1234)), "1.2 s");
    assert_eq!(super::duration(Duration::from_secs(125)), "2m 05s");
}
