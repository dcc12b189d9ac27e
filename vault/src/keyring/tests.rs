use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;

use super::file::{create_file, is_valid_id};
use super::*;

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn creates_a_0600_file_on_first_run_and_reloads_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub").join("keyring.json");
    let created = Keyring::load_or_create(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert!(is_valid_id(created.current_id()));
    assert_eq!(created.ids().collect::<Vec<_>>(), [created.current_id()]);
    // Only the key file remains: the temporary file was removed.
    assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);

    let loaded = Keyring::load_or_create(&path).unwrap();
    assert_eq!(loaded.current_id(), created.current_id());
    let object = ObjectKey::random();
    let (kek_id, wrapped) = created.wrap(&[9; KEY_LEN], &object).unwrap();
    assert_eq!(
        *loaded.unwrap(&kek_id, &wrapped, &object).unwrap(),
        [9; KEY_LEN]
    );

    let text = fs::read_to_string(&path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["current"], created.current_id());
    let key = json["keys"][created.current_id()].as_str().unwrap();
    assert_eq!(STANDARD.decode(key).unwrap().len(), KEY_LEN);
}

#[test]
fn refuses_a_file_others_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring.json");
    Keyring::load_or_create(&path).unwrap();
    for insecure in [0o644, 0o640, 0o604, 0o601, 0o610] {
        fs::set_permissions(&path, fs::Permissions::from_mode(insecure)).unwrap();
        let error = Keyring::load_or_create(&path).unwrap_err();
        assert!(
            matches!(&error, VaultError::InsecureKeyFile { path: p, mode } if p == &path && *mode == insecure),
            "{error:?}"
        );
        assert!(error.to_string().contains("keyring.json"), "{error}");
    }
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
    assert!(Keyring::load(&path).is_ok());
}

#[test]
fn wrap_unwrap_round_trip_binds_the_object_and_kek() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = Keyring::load_or_create(&dir.path().join("k.json")).unwrap();
    let object = ObjectKey::random();
    let data_key = [0x5a; KEY_LEN];
    let (kek_id, wrapped) = keyring.wrap(&data_key, &object).unwrap();
    assert_eq!(kek_id, keyring.current_id());
    assert_eq!(wrapped.len(), NONCE_LEN + KEY_LEN + TAG_LEN);
    assert!(!wrapped.windows(KEY_LEN).any(|w| w == data_key));
    assert_eq!(
        *keyring.unwrap(&kek_id, &wrapped, &object).unwrap(),
        data_key
    );
    // Fresh nonce every time.
    assert_ne!(keyring.wrap(&data_key, &object).unwrap().1, wrapped);

    let other = ObjectKey::random();
    assert!(matches!(
        keyring.unwrap(&kek_id, &wrapped, &other),
        Err(VaultError::KeyUnwrap { .. })
    ));
    assert!(matches!(
        keyring.unwrap("nope", &wrapped, &object),
        Err(VaultError::UnknownKek { .. })
    ));
    for position in 0..wrapped.len() {
        let mut bad = wrapped.clone();
        bad[position] ^= 1;
        assert!(
            keyring.unwrap(&kek_id, &bad, &object).is_err(),
            "byte {position}"
        );
    }
    assert!(
        keyring
            .unwrap(&kek_id, &wrapped[..wrapped.len() - 1], &object)
            .is_err()
    );

    // A different keyring cannot unwrap it, even under the same id.
    let other_ring = Keyring::load_or_create(&dir.path().join("other.json")).unwrap();
    assert!(other_ring.unwrap(&kek_id, &wrapped, &object).is_err());
}

#[test]
fn several_keys_one_current() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.json");
    let text = format!(
        r#"{{"current": "new", "keys": {{"old": "{}", "new": "{}"}}}}"#,
        STANDARD.encode([1u8; 32]),
        STANDARD.encode([2u8; 32])
    );
    create_file(&path, text.as_bytes()).unwrap();
    let keyring = Keyring::load(&path).unwrap();
    assert_eq!(keyring.current_id(), "new");
    assert_eq!(keyring.ids().collect::<Vec<_>>(), ["new", "old"]);
    let debug = format!("{keyring:?}");
    assert!(
        !debug.contains(&STANDARD.encode([2u8; 32])) && debug.contains("new"),
        "{debug}"
    );
    // create_file never replaces an existing file.
    assert_eq!(
        create_file(&path, b"{}").unwrap_err().kind(),
        io::ErrorKind::AlreadyExists
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn malformed_files_are_refused_without_echoing_them() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("not json", "{"),
        (
            "missing current",
            r#"{"current": "b", "keys": {"a": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}"#,
        ),
        ("short key", r#"{"current": "a", "keys": {"a": "AAAA"}}"#),
        (
            "bad base64",
            r#"{"current": "a", "keys": {"a": "secret!!"}}"#,
        ),
        (
            "bad id",
            r#"{"current": "a b", "keys": {"a b": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}"#,
        ),
        ("wrong type", r#"{"current": "a", "keys": {"a": 12345678}}"#),
    ];
    for (name, text) in cases {
        let path = dir.path().join(name.replace(' ', "-"));
        create_file(&path, text.as_bytes()).unwrap();
        let error = Keyring::load_or_create(&path).unwrap_err();
        assert!(
            matches!(error, VaultError::MalformedKeyFile { .. }),
            "{name}: {error:?}"
        );
        assert!(
            !error.to_string().contains("secret") && !error.to_string().contains("12345678"),
            "{name}"
        );
        assert!(std::error::Error::source(&error).is_none());
    }
}

#[test]
fn rotation_edits_replace_the_file_atomically_and_keep_old_keys_until_retired() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.json");
    let mut ring = Keyring::load_or_create(&path).unwrap();
    let old = ring.current_id().to_owned();
    let object = ObjectKey::random();
    let (_, wrapped_old) = ring.wrap(&[7; KEY_LEN], &object).unwrap();

    let lock = UpdateLock::acquire(&path).unwrap();
    let new = ring.add_current_key(&lock).unwrap();
    assert_ne!(new, old);
    ring.save(&lock).unwrap();
    assert_eq!(mode(&path), 0o600);
    let reloaded = Keyring::load(&path).unwrap();
    assert_eq!(reloaded.current_id(), new);
    assert!(reloaded.contains(&old) && reloaded.contains(&new));
    assert_eq!(
        *reloaded.unwrap(&old, &wrapped_old, &object).unwrap(),
        [7; KEY_LEN]
    );

    // The current key is never removed; an old one is, and then only from the file's copy.
    assert!(
        ring.remove_keys(std::slice::from_ref(&new), &lock)
            .is_empty()
    );
    assert_eq!(
        ring.remove_keys(std::slice::from_ref(&old), &lock),
        [old.as_str()]
    );
    ring.save(&lock).unwrap();
    let reloaded = Keyring::load(&path).unwrap();
    assert_eq!(reloaded.ids().collect::<Vec<_>>(), [new.as_str()]);
    assert!(matches!(
        reloaded.unwrap(&old, &wrapped_old, &object),
        Err(VaultError::UnknownKek { .. })
    ));
    // No temporary file is left beside the key file (the lock file stays, empty).
    let mut names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["k.json", "k.json.lock"]);
}

#[test]
fn only_one_rotation_holds_the_update_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.json");
    Keyring::load_or_create(&path).unwrap();
    let first = UpdateLock::acquire(&path).unwrap();
    assert_eq!(mode(first.path()), 0o600);
    assert!(matches!(
        UpdateLock::acquire(&path),
        Err(VaultError::RotationRunning { .. })
    ));
    drop(first);
    UpdateLock::acquire(&path).unwrap();
}

#[test]
fn a_live_keyring_reloads_only_when_the_file_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.json");
    let live = LiveKeyring::new(Keyring::load_or_create(&path).unwrap());
    let first = live.fresh().unwrap();
    // Unchanged file: the same snapshot, no reload.
    assert!(Arc::ptr_eq(&first, &live.fresh().unwrap()));

    let mut ring = Keyring::load(&path).unwrap();
    let lock = UpdateLock::acquire(&path).unwrap();
    let new = ring.add_current_key(&lock).unwrap();
    ring.save(&lock).unwrap();
    // `get` does not look at the file; `fresh` does.
    assert_eq!(live.get().current_id(), first.current_id());
    let fresh = live.fresh().unwrap();
    assert_eq!(fresh.current_id(), new);
    assert!(fresh.contains(first.current_id()));
    assert!(Arc::ptr_eq(&fresh, &live.get()));

    // A broken replacement is an error, and the last good ring stays in use.
    fs::remove_file(&path).unwrap();
    assert!(live.fresh().is_err());
    assert_eq!(live.get().current_id(), new);
}
