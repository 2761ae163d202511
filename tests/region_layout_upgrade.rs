//! Upgrading across a region layout version (docs/region.md, "Layout versions"): a daemon finds a
//! region file and snapshots written with another layout version (what the previous release
//! leaves behind), adopts and loads neither, rebuilds the region from the log, and loses nothing.

mod support;

use eventsrv_daemon::state_dump::{self, first_difference, StateDump};
use eventsrv_format::protocol::{EntityChange, Response};
use eventsrv_format::region::{layout, MappedRegion, RegionState, REGION_LAYOUT_VERSION};
use eventsrv_format::snapshot::{SnapshotHeader, SNAPSHOT_HEADER_BYTES};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use support::{payload, TestDaemon};

const CLASS: &str = "App\\Account";
const OLD_LAYOUT_VERSION: u32 = REGION_LAYOUT_VERSION - 1;

fn dump(daemon: &TestDaemon) -> StateDump {
    state_dump::dump_file(&daemon.region).expect("the region dumps")
}

fn overwrite(path: &Path, offset: u64, bytes: &[u8]) {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open for write");
    file.seek(SeekFrom::Start(offset)).expect("seek");
    file.write_all(bytes).expect("write");
}

/// Rewrite a snapshot's header (checksum included) as if an older release had taken it.
fn mark_snapshot_old(path: &Path) {
    let bytes = std::fs::read(path).expect("read snapshot");
    let mut header = SnapshotHeader::decode(&bytes[..SNAPSHOT_HEADER_BYTES]).expect("header");
    header.region_layout_version = OLD_LAYOUT_VERSION;
    overwrite(path, 0, &header.encode());
}

#[test]
fn a_region_and_snapshots_of_another_layout_version_are_replaced_by_a_replay_of_the_log() {
    let mut daemon = TestDaemon::start_new();
    let mut client = daemon.client();
    for n in 1..=40 {
        client.append_any(&format!("acc-{}", n % 5), n);
    }
    let position = client.status()["committed_position"]
        .as_u64()
        .expect("position");
    // Entity ids of several shapes: they must come back as the same text after the rebuild.
    let ids = [
        "7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f".to_owned(),
        "7F1C2D3E-4B5A-4C6D-8E9F-0A1B2C3D4E5F".to_owned(),
        "account-42".to_owned(),
        "ü".repeat(40),
    ];
    let changes: Vec<EntityChange> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| EntityChange::Upsert {
            class: CLASS.into(),
            uuid: id.clone(),
            data: payload(n as i64),
            position,
        })
        .collect();
    match client.commit(Vec::new(), Some(position), changes) {
        Response::Committed { .. } => {}
        other => panic!("commit: {other:?}"),
    }
    drop(client);
    let before = dump(&daemon);
    daemon.stop_clean();
    let snapshots = daemon.snapshot_files();
    assert!(!snapshots.is_empty(), "a clean stop writes a snapshot");

    // What an older release leaves: its region file (still live, its daemon gone) and its
    // snapshots, both of the older layout version.
    overwrite(
        &daemon.region,
        layout::OFF_LAYOUT_VERSION,
        &OLD_LAYOUT_VERSION.to_le_bytes(),
    );
    for snapshot in &snapshots {
        mark_snapshot_old(snapshot);
    }

    daemon.start();
    let report = daemon.client().status();
    assert_eq!(report["boot"]["source"], "full log replay", "{report}");
    let skipped: Vec<String> = report["boot"]["skipped"]
        .as_array()
        .expect("skipped list")
        .iter()
        .map(|why| why.as_str().expect("text").to_owned())
        .collect();
    assert_eq!(skipped.len(), 1 + snapshots.len(), "{skipped:?}");
    assert!(
        skipped[0].contains("not adopted")
            && skipped[0].contains(&format!("layout version {OLD_LAYOUT_VERSION}")),
        "{skipped:?}"
    );
    for why in &skipped[1..] {
        assert!(
            why.contains("skipped") && why.contains("region layout version"),
            "{skipped:?}"
        );
    }

    let region = MappedRegion::open(&daemon.region).expect("the rebuilt region maps");
    let header = region.view().header();
    assert_eq!(header.layout_version, REGION_LAYOUT_VERSION);
    assert_eq!(header.state, RegionState::Live);
    drop(region);
    let after = dump(&daemon);
    if let Some(difference) = first_difference(&before, &after) {
        panic!("the rebuilt state differs from the one before the upgrade: {difference}");
    }
    let class = after
        .classes
        .iter()
        .find(|class| class.name == CLASS)
        .expect("the class survives");
    let listed: Vec<&[u8]> = class.entities.iter().map(|e| e.uuid.as_slice()).collect();
    let expected: Vec<&[u8]> = ids.iter().map(|id| id.as_bytes()).collect();
    assert_eq!(
        listed, expected,
        "the same ids, as the same text, in the same order"
    );
}
