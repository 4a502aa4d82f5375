//! Attack: the converter is compromised (a PDF exploited poppler, say) and
//! does whatever it likes inside its container. It reaches no network and
//! no host file, and what it hands back — a link to a host file, a
//! program named safe.pdf, a FIFO, extra files — is refused: no new item,
//! nothing left in the host but the job's folder, which goes too.
//! Real Podman (runc: the weaker of the two isolations), the real image.

mod quarantine_support;
mod sanitise_support;

use std::path::Path;
use std::sync::Arc;

use sanitise_support::*;
use zion_profiles::PodmanClient;
use zion_quarantine::{IngestOutcome, Item, Source, Store, StorePaths};
use zion_sandboxd::sanitise::{SanitiseError, Sanitiser, Settings};
use zion_storage::{AuditLog, Layout};
use zion_tests::images::TestImage;
use zion_tests::TestEnv;

/// What every hostile converter tries first; each attempt prints
/// `NAME=blocked` or `NAME=OPEN`.
const ATTEMPTS: &str = r#"
import os, socket, sys
report = []
def attempt(name, f):
    try:
        f()
        report.append(name + "=OPEN")
    except Exception:
        report.append(name + "=blocked")
attempt("tcp", lambda: socket.create_connection(("1.1.1.1", 53), timeout=2))
attempt("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("1.1.1.1", 53)))
attempt("root", lambda: open("/zion-was-here", "w"))
attempt("etc", lambda: open("/etc/zion-was-here", "w"))
attempt("input", lambda: open("/in/input", "a"))
attempt("plant", lambda: open("/in/planted", "w"))
attempt("setuid", lambda: os.setuid(0))
attempt("mount", lambda: os.mkdir("/proc/sys/zion"))
"#;

fn store(env: &TestEnv) -> Arc<Store> {
    let dir = env.root().join("q");
    let layout = Layout::new(dir.join("zion"));
    layout.create(&["work"]).expect("layout");
    let audit = AuditLog::open(dir.join("zion/audit.log")).expect("audit log");
    let store =
        Store::open(StorePaths::under(dir.join("quarantine")), layout, audit).expect("store");
    store
        .add_source(&Source {
            name: "sb1".into(),
            label: "sandbox:work/1".into(),
            profile: Some("work".into()),
        })
        .expect("source");
    Arc::new(store)
}

fn ingest(store: &Store, name: &str, bytes: &[u8]) -> Item {
    std::fs::write(store.paths().inbox.join("sb1").join(name), bytes).expect("inbox file");
    match store.ingest("sb1", name.as_ref()).expect("ingest") {
        IngestOutcome::Stored(item) => *item,
        other => panic!("not stored: {other:?}"),
    }
}

fn sanitiser(env: &TestEnv, image: &str, converter: String) -> Sanitiser {
    let settings = Settings {
        image: image.to_owned(),
        converter,
        ..Default::default()
    };
    Sanitiser::with_podman(
        settings,
        PodmanClient::new(&env.podman().uri()).expect("client"),
    )
}

fn job_folders(store: &Store) -> Vec<std::path::PathBuf> {
    let base = store
        .paths()
        .objects
        .parent()
        .expect("quarantine")
        .join("sanitise");
    std::fs::read_dir(base)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compromised_converter_reaches_nothing_and_what_it_hands_back_is_refused() {
    let env = TestEnv::new().expect("test environment");
    let image = env
        .image(TestImage::Sanitiser)
        .expect("the sanitiser's image");
    let store = store(&env);
    let original = ingest(&store, "report.pdf", &pdf(1, INVOICE, false, true));
    let object = store.object_path(&original.sha256.expect("hash"));
    let before = std::fs::read(&object).expect("object");
    // A host file the attacker would love to have copied into the store.
    let secret = env.root().join("secret.txt");
    std::fs::write(&secret, "the user's secret").expect("secret");

    // 1. What it can reach: it reports and fails on purpose.
    let probe = format!(
        "{ATTEMPTS}\nprint('zion-sanitise: ' + ' '.join(report), file=sys.stderr)\nsys.exit(65)\n"
    );
    let err = sanitiser(&env, &image, probe)
        .sanitise(store.clone(), original.id)
        .await
        .expect_err("the probe fails on purpose");
    let SanitiseError::Failed { reason, .. } = &err else {
        panic!("{err}");
    };
    for name in [
        "tcp", "udp", "root", "etc", "input", "plant", "setuid", "mount",
    ] {
        assert!(
            reason.contains(&format!("{name}=blocked")),
            "{name} was not blocked: {reason}"
        );
    }
    assert!(!reason.contains("OPEN"), "{reason}");

    // 2. What it hands back.
    let secret_path = secret.display().to_string();
    let outputs = [
        (format!("os.symlink({secret_path:?}, '/out/safe.pdf')"), "cannot be opened as a plain file"),
        ("open('/out/safe.pdf', 'wb').write(b'\\x7fELF\\x02\\x01\\x01' + bytes(4096))".to_owned(), "safe.pdf is not a PDF"),
        ("os.mkfifo('/out/safe.pdf')".to_owned(), "not a regular file"),
        (
            "open('/out/safe.pdf', 'wb').write(b'%PDF-1.4\\n%%EOF\\n'); open('/out/run-me.sh', 'w').write('rm -rf ~')".to_owned(),
            "run-me.sh",
        ),
        ("pass".to_owned(), "wrote no safe.pdf"),
    ];
    for (hand_back, refusal) in outputs {
        let converter = format!("{ATTEMPTS}\n{hand_back}\n");
        let err = sanitiser(&env, &image, converter)
            .sanitise(store.clone(), original.id)
            .await
            .expect_err("a hostile output is refused");
        assert!(
            matches!(err, SanitiseError::Refused { .. }) && err.to_string().contains(refusal),
            "{hand_back}: {err}"
        );
        assert!(
            job_folders(&store).is_empty(),
            "{hand_back}: {:?}",
            job_folders(&store)
        );
    }

    // Nothing entered the store; the original is untouched; the host's
    // secret is where it was, unread into the quarantine.
    let items = store.list().expect("list");
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(std::fs::read(&object).expect("object"), before);
    assert_eq!(
        std::fs::read_to_string(&secret).expect("secret"),
        "the user's secret"
    );
    assert!(!Path::new("/zion-was-here").exists() && !Path::new("/etc/zion-was-here").exists());
}
