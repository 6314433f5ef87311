//! Files under the data directory hold call arguments (the dead-letter
//! queue) and pending writes (the write-ahead log): only their owner may
//! read them. The directory is created 0700 and each SQLite file 0600
//! before SQLite opens it; SQLite gives its `-wal`, `-shm` and `-journal`
//! companions the main file's mode. A file left wider by an older version
//! is narrowed here too (it is Baldur's own).

use std::path::Path;

/// What SQLite adds to a database's name for its companion files.
const COMPANIONS: [&str; 3] = ["-wal", "-shm", "-journal"];

/// Makes `path` an existing file only its owner can read and write, its
/// directory created private if missing, before SQLite opens it.
pub fn prepare(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    create_private(path)?;
    for suffix in COMPANIONS {
        let mut companion = path.as_os_str().to_owned();
        companion.push(suffix);
        narrow(Path::new(&companion))?;
    }
    Ok(())
}

/// Creates `dir` (its parents with the default mode, itself 0700); an
/// existing directory is left as it is (the Python side checks and reports
/// it at `init()`: it may be shared with other software).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    match builder.create(dir) {
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        other => other,
    }
}

#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_CREAT with 0600: never readable by others, not even for a moment.
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;
    narrow(path)
}

#[cfg(not(unix))]
fn create_private(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Takes group and other permissions off an existing file.
#[cfg(unix)]
fn narrow(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = match std::fs::metadata(path) {
        Ok(metadata) => metadata.permissions().mode(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    if mode & 0o077 == 0 {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))
}

#[cfg(not(unix))]
fn narrow(_path: &Path) -> std::io::Result<()> {
    Ok(())
}
