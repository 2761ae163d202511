//! eventsrv in the PHP world: the Laravel and Symfony example apps served by nginx + php-fpm on
//! loopback against a real daemon, their projector workers run by the framework commands
//! (`artisan eventsrv:work`, `bin/console eventsrv:work`), driven over HTTP; the systemd units
//! and `make install` checked without touching the machine. The set-up uses Debian packages
//! only; a missing one fails the test naming it. Nothing asserts on time.

mod frameworks_support;
mod php_support;
mod support;

use frameworks_support::{require_packages, ServedApp};
use php_support::repo_root;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::TestDaemon;

/// Bound on waiting for the worker to attach.
const ATTACH_WAIT: Duration = Duration::from_secs(60);

fn wait_for_workers(daemon: &TestDaemon, workers: u64, log: &dyn Fn() -> String) {
    let deadline = Instant::now() + ATTACH_WAIT;
    loop {
        let status = daemon.client().status();
        if status["workers_attached"].as_u64().unwrap_or(0) >= workers {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "worker did not attach: {status}\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn uuid_from_location(response: &frameworks_support::HttpResponse) -> String {
    let location = response
        .header("Location")
        .unwrap_or_else(|| panic!("no Location in {response:?}"));
    location.rsplit('/').next().expect("a path").to_owned()
}

/// The bank over HTTP: open accounts with the form, pay in and take out through forms and the
/// JSON API, list and detail pages, refusals, the status page, the console commands.
fn bank_over_http(name: &'static str) {
    let daemon = TestDaemon::start_new();
    let app = ServedApp::start(name, &daemon.socket, &daemon.region);
    let worker = app.spawn_worker();
    wait_for_workers(&daemon, 1, &|| worker.log());

    // Open two accounts through the page form: 303 to the new account's page.
    let opened = app.post("/accounts", "name=Ada+Lovelace");
    assert_eq!(opened.status, 303, "{opened:?}\n{}", app.logs());
    let ada = uuid_from_location(&opened);
    let bob = app.post("/api/accounts", "name=Bob").json()["uuid"]
        .as_str()
        .expect("uuid")
        .to_owned();

    // Money moves: forms and JSON; persist() waited for the projection, so reads see it at once.
    assert_eq!(
        app.post(&format!("/accounts/{ada}/increase"), "amount=120")
            .status,
        303
    );
    let paid = app.post(&format!("/api/accounts/{bob}/increase"), "amount=75");
    assert_eq!(paid.status, 200, "{paid:?}");
    assert_eq!(paid.json()["increased"], 75);
    assert_eq!(
        app.post(&format!("/accounts/{ada}/decrease"), "amount=20")
            .status,
        303
    );

    let page = app.get(&format!("/accounts/{ada}"));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Ada Lovelace"), "{}", page.body);
    assert!(
        page.body
            .contains(r#"<strong class="balance">100</strong>"#),
        "{}",
        page.body
    );

    let list = app.get("/");
    assert_eq!(list.status, 200);
    for expected in ["Ada Lovelace", "Bob", ">100<", ">75<"] {
        assert!(
            list.body.contains(expected),
            "list lacks {expected}:\n{}",
            list.body
        );
    }
    let accounts = app.get("/api/accounts").json();
    let balances: BTreeMap<String, i64> = accounts["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_owned(),
                a["balance"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        balances,
        BTreeMap::from([("Ada Lovelace".into(), 100), ("Bob".into(), 75)])
    );

    // Refusals a user sees: overdraft (422, nothing written), bad amount, unknown account.
    let overdraft = app.post(&format!("/accounts/{bob}/decrease"), "amount=1000");
    assert_eq!(overdraft.status, 422);
    assert!(
        overdraft.body.contains("may not go below zero"),
        "{}",
        overdraft.body
    );
    assert_eq!(
        app.post(&format!("/api/accounts/{bob}/increase"), "amount=ten")
            .status,
        422
    );
    assert_eq!(
        app.get("/api/accounts/00000000-0000-7000-8000-000000000000")
            .status,
        404
    );
    assert_eq!(
        app.get(&format!("/api/accounts/{bob}")).json()["balance"],
        75
    );

    // The operators' page and JSON: positions, lag, the projector up to date, a worker attached.
    let status = app.get("/api/status").json();
    assert_eq!(status["daemon"], "running");
    assert_eq!(status["committed"], 5, "{status}");
    assert_eq!(status["lag"], 0, "{status}");
    assert_eq!(status["workers"], 1, "{status}");
    let projector = &status["handlers"][0];
    assert_eq!(projector["name"], "Bank\\AccountProjector");
    assert_eq!(projector["status"], "active", "{status}");
    assert_eq!(projector["progress"], "up to date", "{status}");
    assert_eq!(projector["failure"], serde_json::Value::Null, "{status}");
    assert_eq!(status["failed"], 0, "{status}");
    let page = app.get("/status");
    assert!(
        page.body.contains("Bank\\AccountProjector") && page.body.contains("up to date"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("Committed position <strong>5</strong>"),
        "{}",
        page.body
    );

    // The console: status (table and JSON), replay rebuilds the same balances.
    let table = app.run_console(&["eventsrv:status"]);
    assert!(
        table.contains("Bank\\AccountProjector") && table.contains("up to date"),
        "{table}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&app.run_console(&["eventsrv:status", "--json"])).expect("json");
    assert_eq!(json["handlers"][0]["checkpoint"], 5);
    let replay_args: &[&str] = if name == "laravel" {
        &["eventsrv:replay", "AccountProjector", "--force"]
    } else {
        &["eventsrv:replay", "AccountProjector"]
    };
    let replayed = app.console_output(replay_args);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&replayed.stdout),
        String::from_utf8_lossy(&replayed.stderr),
    );
    assert!(
        replayed.status.success() && stdout.contains("Replayed 5 event(s)"),
        "{stdout}{stderr}"
    );
    // Symfony draws the bar on stderr; artisan's output style draws it on stdout.
    assert!(
        format!("{stdout}{stderr}").contains("5/5 events"),
        "progress bar missing: {stdout}{stderr}"
    );
    assert_eq!(
        app.get(&format!("/api/accounts/{ada}")).json()["balance"],
        100
    );
    let mut unknown_args = replay_args.to_vec();
    unknown_args[1] = "NoSuchProjector";
    let unknown = app.console_output(&unknown_args);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&unknown.stdout),
        String::from_utf8_lossy(&unknown.stderr)
    );
    assert_eq!(unknown.status.code(), Some(2), "{said}");
    assert!(
        said.contains("no projector named NoSuchProjector"),
        "{said}"
    );

    // SIGTERM: the worker finishes its batch and exits 0.
    assert!(worker.terminate(), "worker did not exit 0 on SIGTERM");
    let status = app.get("/api/status").json();
    assert_eq!(status["workers"], 0, "{status}");
    assert_eq!(status["handlers"][0]["progress"], "up to date", "{status}");

    pause_and_resume_through_the_console(&app, &ada);
}

/// The operator pauses the projector with the framework command; the status page, its JSON and
/// `eventsrv:status` say so, and a payment waits behind it; resume lets the next worker run
/// project it. Run with no worker attached, so no batch can start between a status change and
/// the assertion that follows it.
fn pause_and_resume_through_the_console(app: &ServedApp, ada: &str) {
    let paused = app.run_console(&["eventsrv:pause", "AccountProjector"]);
    assert!(
        paused.contains("projector Bank\\AccountProjector: active -> paused"),
        "{paused}"
    );
    let paid = app.post(&format!("/api/accounts/{ada}/increase"), "amount=5");
    assert_eq!(paid.status, 200, "{paid:?}");

    let status = app.get("/api/status").json();
    let projector = &status["handlers"][0];
    assert_eq!(projector["status"], "paused", "{status}");
    assert_eq!(projector["lag"], 1, "{status}");
    assert_eq!(
        projector["progress"], "behind by 1: stopped until resumed",
        "{status}"
    );
    let page = app.get("/status").body;
    assert!(
        page.contains(r#"<td class="status-paused""#) && page.contains("paused since"),
        "{page}"
    );
    let table = app.run_console(&["eventsrv:status"]);
    assert!(
        table.contains("Bank\\AccountProjector: paused since")
            && table.contains("stopped until resumed"),
        "{table}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&app.run_console(&["eventsrv:status", "--json"])).expect("json");
    assert_eq!(json["handlers"][0]["status"], "paused", "{json}");

    // A worker run while it is paused leaves it where it was.
    app.run_console(&["eventsrv:work", "--once"]);
    assert_eq!(
        app.get(&format!("/api/accounts/{ada}")).json()["balance"],
        100
    );

    let resumed = app.run_console(&["eventsrv:resume", "AccountProjector"]);
    assert!(resumed.contains("paused -> active"), "{resumed}");
    app.run_console(&["eventsrv:work", "--once"]);
    assert_eq!(
        app.get(&format!("/api/accounts/{ada}")).json()["balance"],
        105
    );
    let status = app.get("/api/status").json();
    assert_eq!(status["handlers"][0]["status"], "active", "{status}");
    assert_eq!(status["handlers"][0]["progress"], "up to date", "{status}");

    // Retry is resume for a failed projector; one the app does not have is refused (exit 2).
    let unknown = app.console_output(&["eventsrv:retry", "NoSuchProjector"]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&unknown.stdout),
        String::from_utf8_lossy(&unknown.stderr)
    );
    assert_eq!(unknown.status.code(), Some(2), "{said}");
    assert!(
        said.contains("no projector named NoSuchProjector"),
        "{said}"
    );
}

#[test]
fn laravel_app_serves_the_bank_over_nginx_and_php_fpm() {
    bank_over_http("laravel");
}

#[test]
fn symfony_app_serves_the_bank_over_nginx_and_php_fpm() {
    bank_over_http("symfony");
}

/// The wrk load test (bench/http/run.sh), briefly: both apps on eventsrv and on PDO SQLite, then
/// both apps at once against one daemon. The script fails if any balance lies outside [sum of
/// acknowledged writes, sum of writes sent]; the requests/s table is printed, not asserted on.
#[test]
fn wrk_load_on_both_apps_keeps_every_balance_between_acknowledged_and_sent_writes() {
    require_packages();
    // The script runs `composer install` in both apps: not at the same time as another test.
    let _guard = frameworks_support::prepare_guard();
    let output = Command::new(repo_root().join("bench/http/run.sh"))
        .args(["--duration", "2", "--connections", "4", "--accounts", "5"])
        .current_dir(repo_root())
        .output()
        .expect("bench/http/run.sh runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the load test failed:\n{stdout}\n{stderr}"
    );
    for line in [
        "eventsrv: ",
        "eventsrv-symfony: ",
        "sqlite: ",
        "sqlite-symfony: ",
    ] {
        let found = stdout
            .lines()
            .find(|l| l.starts_with(line))
            .unwrap_or_else(|| panic!("no {line:?} balance check in:\n{stdout}"));
        assert!(found.ends_with("OK"), "{found}");
    }
    for run in [
        "laravel, eventsrv",
        "laravel, PDO SQLite",
        "symfony, eventsrv",
        "symfony, PDO SQLite",
    ] {
        assert!(
            stdout.contains(&format!("| {run} |")),
            "no {run:?} row:\n{stdout}"
        );
    }
    eprintln!("{stdout}");
}

/// Both apps write to the same accounts at once against one daemon (one worker, Laravel's):
/// every balance equals the sum of the writes the apps acknowledged with 200, as both apps read it.
#[test]
fn both_apps_on_one_daemon_agree_and_balances_equal_acknowledged_writes() {
    const WRITERS_PER_APP: usize = 3;
    const WRITES_PER_WRITER: usize = 20;
    let daemon = TestDaemon::start_new();
    let laravel = ServedApp::start("laravel", &daemon.socket, &daemon.region);
    let symfony = ServedApp::start("symfony", &daemon.socket, &daemon.region);
    let worker = laravel.spawn_worker();
    wait_for_workers(&daemon, 1, &|| worker.log());

    let accounts: Vec<String> = ["A", "B", "C"]
        .iter()
        .map(|name| {
            let opened = symfony.post("/api/accounts", &format!("name={name}"));
            assert_eq!(opened.status, 201, "{opened:?}");
            opened.json()["uuid"].as_str().unwrap().to_owned()
        })
        .collect();

    let ports = [laravel.port, symfony.port];
    let threads: Vec<_> = (0..WRITERS_PER_APP * 2)
        .map(|writer| {
            let port = ports[writer % 2];
            let accounts = accounts.clone();
            std::thread::spawn(move || {
                let mut acknowledged = BTreeMap::<String, i64>::new();
                for write in 0..WRITES_PER_WRITER {
                    let uuid = &accounts[(writer + write) % accounts.len()];
                    let amount = (writer * 7 + write) as i64 % 9 + 1;
                    let path = format!("/api/accounts/{uuid}/increase");
                    let response = frameworks_support::http(
                        port,
                        "POST",
                        &path,
                        Some(&format!("amount={amount}")),
                    );
                    match response.status {
                        200 => *acknowledged.entry(uuid.clone()).or_default() += amount,
                        409 => {} // lost every retry: nothing written, not acknowledged
                        other => panic!("write answered {other}: {}", response.body),
                    }
                }
                acknowledged
            })
        })
        .collect();
    let mut expected = BTreeMap::<String, i64>::new();
    for thread in threads {
        for (uuid, amount) in thread.join().expect("writer thread") {
            *expected.entry(uuid).or_default() += amount;
        }
    }
    assert!(
        expected.values().sum::<i64>() > 0,
        "no write was acknowledged"
    );

    for app in [&laravel, &symfony] {
        for uuid in &accounts {
            let balance = app.get(&format!("/api/accounts/{uuid}")).json()["balance"]
                .as_i64()
                .unwrap();
            assert_eq!(
                balance,
                expected.get(uuid).copied().unwrap_or(0),
                "{}: balance of {uuid} differs from the acknowledged writes",
                app.name
            );
        }
    }
    // And the log holds exactly the acknowledged increases.
    let increases: i64 = daemon
        .all_events()
        .iter()
        .filter(|e| {
            e["type"]
                .as_str()
                .is_some_and(|t| t.ends_with("BalanceIncreased"))
        })
        .map(|e| e["payload"]["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(increases, expected.values().sum::<i64>());
}

/// `php artisan make:*` writes classes of the right kind that PHP can parse (in a copy of the
/// app, so the example stays as it is).
#[test]
fn laravel_generators_write_aggregate_projector_reactor_and_event_classes() {
    let daemon = TestDaemon::new(); // paths only: generators need no daemon
    let app = ServedApp::configure("laravel", &daemon.socket, &daemon.region);
    let copy = app.dir.path().join("app-copy");
    // -L: the copy gets the eventsrv package itself, not the path repository's relative symlink.
    let copied = Command::new("cp")
        .arg("-rL")
        .arg(repo_root().join("examples/laravel"))
        .arg(&copy)
        .status()
        .expect("cp");
    assert!(copied.success());
    let generators = [
        (
            "make:aggregate",
            "Wallet",
            "app/Aggregates/Wallet.php",
            "extends AggregateRoot",
        ),
        (
            "make:projector",
            "WalletProjector",
            "app/Projectors/WalletProjector.php",
            "extends Projector",
        ),
        (
            "make:reactor",
            "WalletMailer",
            "app/Reactors/WalletMailer.php",
            "extends Reactor",
        ),
        (
            "make:event",
            "MoneyAdded",
            "app/Events/MoneyAdded.php",
            "extends Event",
        ),
        (
            "make:stored-event",
            "MoneyTaken",
            "app/Events/MoneyTaken.php",
            "extends Event",
        ),
    ];
    for (command, class, file, extends) in generators {
        let output = app
            .console_script(&copy.join("artisan"), &[command, class])
            .output()
            .expect("artisan");
        assert!(
            output.status.success(),
            "{command}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let code =
            std::fs::read_to_string(copy.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(
            code.contains(&format!("final class {class} {extends}")),
            "{code}"
        );
        let lint = Command::new("php")
            .arg("-n")
            .arg("-l")
            .arg(copy.join(file))
            .output()
            .expect("php -l");
        assert!(lint.status.success(), "{file} does not parse:\n{code}");
    }
}

/// `make install DESTDIR=…` stages the Debian layout (extension in PHP's extension dir, the ini in
/// mods-available, the binary, the units, the PHP package), and PHP loads the staged extension
/// through the staged ini: `php -m` lists it, `php --ri` describes it.
#[test]
fn make_install_stages_the_debian_layout_and_php_loads_the_extension_from_it() {
    let stage = tempfile::tempdir().expect("tempdir");
    let output = Command::new("make")
        .arg("-s")
        .arg("install")
        .arg(format!("DESTDIR={}", stage.path().display()))
        .current_dir(repo_root())
        .output()
        .expect("make runs (Debian package make)");
    assert!(
        output.status.success(),
        "make install failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let extension_dir = php_config(&["--extension-dir"]);
    let version = php_config(&["--version"]);
    let minor = version
        .rsplit_once('.')
        .map(|(minor, _)| minor)
        .expect("x.y.z");
    let staged = |path: &str| stage.path().join(path.trim_start_matches('/'));
    let mods = staged(&format!("/etc/php/{minor}/mods-available"));
    for path in [
        staged(&format!("{extension_dir}/eventsrv.so")),
        mods.join("eventsrv.ini"),
        staged("/usr/local/bin/eventsrv"),
        staged("/lib/systemd/system/eventsrv.service"),
        staged("/lib/systemd/system/eventsrv-worker.service"),
        staged("/usr/lib/sysusers.d/eventsrv.conf"),
        staged("/usr/local/share/eventsrv/php/src/Worker.php"),
        staged("/usr/local/share/eventsrv/php/src/Laravel/EventSrvServiceProvider.php"),
        staged("/usr/local/share/eventsrv/php/src/Symfony/EventSrvBundle.php"),
        staged("/usr/local/share/eventsrv/php/composer.json"),
    ] {
        assert!(
            path.exists(),
            "make install did not stage {}",
            path.display()
        );
    }
    // phpenmod's scheme: the ini names the extension by file name, found in extension_dir.
    let php = |args: &[&str]| {
        let output = Command::new("php")
            .arg("-c")
            .arg("/dev/null")
            .arg("-d")
            .arg(format!(
                "extension_dir={}",
                staged(&extension_dir).display()
            ))
            .args(args)
            .env("PHP_INI_SCAN_DIR", &mods)
            .output()
            .expect("php runs");
        assert!(
            output.status.success(),
            "php {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert!(
        php(&["-m"]).lines().any(|line| line == "eventsrv"),
        "php -m does not list eventsrv"
    );
    let info = php(&["--ri", "eventsrv"]);
    for expected in [
        "eventsrv support => enabled",
        "extension version",
        "eventsrv.socket",
        "eventsrv.region",
    ] {
        assert!(
            info.contains(expected),
            "php --ri eventsrv lacks {expected}:\n{info}"
        );
    }
}

fn php_config(args: &[&str]) -> String {
    let output = Command::new("php-config")
        .args(args)
        .output()
        .expect("php-config (php8.2-dev)");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The systemd units pass `systemd-analyze verify` (systemd need not be running). The daemon
/// unit's ExecStart names the installed binary, which this machine need not have: the check runs
/// on a copy pointing at the binary under test, after asserting the original path.
#[test]
fn systemd_units_pass_systemd_analyze_verify() {
    require_packages();
    assert!(
        Command::new("systemd-analyze")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "systemd-analyze is missing: install the Debian package systemd"
    );
    let units = repo_root().join("packaging/systemd");
    let scratch = tempfile::tempdir().expect("tempdir");
    let daemon_unit = std::fs::read_to_string(units.join("eventsrv.service")).expect("unit");
    assert!(
        daemon_unit.contains("ExecStart=/usr/local/bin/eventsrv serve"),
        "{daemon_unit}"
    );
    for required in [
        "RuntimeDirectory=eventsrv",
        "User=eventsrv",
        "Group=www-data",
        "Restart=on-failure",
        "KillSignal=SIGTERM",
    ] {
        assert!(
            daemon_unit.contains(required),
            "eventsrv.service lacks {required}"
        );
    }
    let worker_unit = std::fs::read_to_string(units.join("eventsrv-worker.service")).expect("unit");
    for required in [
        "After=eventsrv.service",
        "Requires=eventsrv.service",
        "Restart=always",
        "RestartSec=",
        "StartLimitBurst=",
    ] {
        assert!(
            worker_unit.contains(required),
            "eventsrv-worker.service lacks {required}"
        );
    }
    let binary = Path::new(env!("CARGO_BIN_EXE_eventsrv"));
    std::fs::write(
        scratch.path().join("eventsrv.service"),
        daemon_unit.replace("/usr/local/bin/eventsrv", &binary.display().to_string()),
    )
    .expect("write unit");
    std::fs::write(scratch.path().join("eventsrv-worker.service"), &worker_unit)
        .expect("write unit");
    let output = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(scratch.path().join("eventsrv.service"))
        .arg(scratch.path().join("eventsrv-worker.service"))
        .output()
        .expect("systemd-analyze runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && said.trim().is_empty(),
        "systemd-analyze verify:\n{said}"
    );
}
