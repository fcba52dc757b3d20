//! Reading and writing the files the CLI handles: inputs, outputs (written atomically so a
//! failure never leaves half a file), and key files (mode 0600, refused when others can read).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use picrypt_core::format::FILE_EXTENSION;
use picrypt_core::{Container, Image, Key};

/// Reads a whole file, naming it in the error.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with_mode(path, bytes, 0o644, true)
}

fn write_with_mode(path: &Path, bytes: &[u8], mode: u32, overwrite: bool) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        bail!(
            "cannot write {}: directory {} does not exist",
            path.display(),
            dir.display()
        );
    }
    if !overwrite && path.exists() {
        bail!(
            "{} already exists; refusing to overwrite a key (pass --force to replace it)",
            path.display()
        );
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".picrypt-")
        .tempfile_in(&dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot set permissions on {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Writes a key file readable by its owner only.
pub fn write_key(path: &Path, key: &Key, force: bool) -> Result<()> {
    let mode = if key.is_secret() { 0o600 } else { 0o644 };
    write_with_mode(path, &key.to_bytes(), mode, force)
}

/// Reads a key file. A secret key that group or others can read is refused, as ssh does.
pub fn read_key(path: &Path) -> Result<Key> {
    let bytes = zeroize::Zeroizing::new(read(path)?);
    let key = Key::parse(&bytes).with_context(|| format!("{}", path.display()))?;
    #[cfg(unix)]
    if key.is_secret() {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            bail!(
                "secret key {} is readable by others (mode {:03o}); fix it with: chmod 600 {}",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
    }
    Ok(key)
}

/// Reads and decodes an image file.
pub fn read_image(path: &Path) -> Result<Image> {
    let bytes = read(path)?;
    picrypt_core::image_io::decode(&bytes).with_context(|| format!("{}", path.display()))
}

/// Reads and parses a ciphertext container.
pub fn read_container(path: &Path) -> Result<Container> {
    let bytes = read(path)?;
    Container::parse(&bytes).with_context(|| format!("{}", path.display()))
}

/// The lower-case extension of a path, if any.
pub fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// `KEY.pub` beside `KEY`.
pub fn public_key_path(secret: &Path) -> PathBuf {
    let mut name = secret.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// Refuses to write a ciphertext under a name that says "image".
pub fn check_container_name(out: &Path) -> Result<()> {
    let ext = extension(out);
    if ["png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp", "npy"].contains(&ext.as_str()) {
        bail!(
            "{} would hold a ciphertext, not an image; name it *.{FILE_EXTENSION}",
            out.display()
        );
    }
    Ok(())
}
