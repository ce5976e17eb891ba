//! File modes of the data directory and the database: only the server's user may read
//! them, since the database holds the server secret and every file's ciphertext.
//!
//! The modes are set when the server creates a path. An existing directory keeps the
//! mode its operator gave it; an existing database file readable by others is logged
//! as a warning at start.

use std::io;
use std::path::Path;

/// Mode of a data directory the server creates: owner only.
#[cfg(unix)]
pub const DATA_DIR_MODE: u32 = 0o700;

/// Mode of a database file the server creates: owner read and write only.
#[cfg(unix)]
pub const DATABASE_MODE: u32 = 0o600;

/// Creates the data directory `path` and its missing parents with mode 0700 (on unix).
/// An existing directory is left as it is.
pub fn create_data_dir(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DATA_DIR_MODE);
    }
    builder.create(path)
}

/// Creates the database file `path` empty with mode 0600 (on unix) when it does not
/// exist yet, so that redb opens a file no other user can read. When it exists and
/// others than its owner may read or write it, logs a warning.
pub(super) fn prepare_database_file(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(DATABASE_MODE)
            .open(path)
        {
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    tracing::warn!(
                        database = %path.display(),
                        mode = format!("{mode:o}"),
                        "database file is readable by other users; run chmod 600 on it"
                    );
                }
            }
            Err(err) => return Err(err),
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::store::Store;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_data_dir_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("a").join("data");
        create_data_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
    }

    #[test]
    fn existing_data_dir_keeps_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o750)).unwrap();
        create_data_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o750);
    }

    #[tokio::test]
    async fn new_database_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dtc.redb");
        let store = Store::open(&path).await.unwrap();
        assert_eq!(mode(&path), 0o600);
        assert!(store.close().await.unwrap());
        let store = Store::open(&path).await.unwrap();
        assert_eq!(mode(&path), 0o600);
        drop(store);
    }

    #[tokio::test]
    async fn existing_database_file_keeps_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dtc.redb");
        let store = Store::open(&path).await.unwrap();
        assert!(store.close().await.unwrap());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let store = Store::open(&path).await.unwrap();
        assert_eq!(mode(&path), 0o640);
        drop(store);
    }
}
