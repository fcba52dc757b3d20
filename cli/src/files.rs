//! Reading and writing the files the CLI handles: inputs, outputs (checked before any work,
//! written atomically so a failure never leaves half a file, never over a key file or one
//! of the command's own inputs), and key files (mode 0600, refused when others can read).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use picrypt_core::format::FILE_EXTENSION;
use picrypt_core::{image_io, Container, Image, Key};

/// Reads a whole file, naming it in the error.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// What an output file will hold, so its name can be checked before any work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A ciphertext container (any name but an image's or `.npy`).
    Container,
    /// A PNG picture.
    Png,
    /// A NumPy array.
    Npy,
    /// A decrypted result: a PNG (image or render) or `.npy`.
    PngOrNpy,
    /// A key file (only `keygen` writes one).
    Key,
}

/// Checks every output a command will write before it does any work (reading images,
/// encrypting, calling a function): the directory exists and is writable, the name says
/// what it will hold, and it is neither a directory, nor a key file (detected by content,
/// whatever its name), nor one of the command's own inputs (compared by canonical path
/// and by device and inode, so a symlink or a hard link is caught), nor another output.
pub fn check_outputs(outputs: &[(&Path, Kind)], inputs: &[&Path]) -> Result<()> {
    for (i, &(out, kind)) in outputs.iter().enumerate() {
        check_name(out, kind)?;
        let dir = parent_dir(out);
        if !dir.is_dir() {
            bail!(
                "cannot write {}: directory {} does not exist",
                out.display(),
                dir.display()
            );
        }
        tempfile::Builder::new()
            .prefix(".picrypt-check-")
            .tempfile_in(&dir)
            .with_context(|| {
                format!(
                    "cannot write {}: directory {} is not writable",
                    out.display(),
                    dir.display()
                )
            })?;
        if out.is_dir() {
            bail!("cannot write {}: it is a directory", out.display());
        }
        if kind != Kind::Key && is_key_file(out) {
            bail!(
                "{} is a key file: refusing to overwrite it with an output (only `picrypt keygen --force` replaces a key)",
                out.display()
            );
        }
        for input in inputs {
            if same_file(out, input) {
                bail!(
                    "{} is also an input of this command: refusing to overwrite it",
                    out.display()
                );
            }
        }
        for (other, _) in &outputs[..i] {
            if same_file(out, other) {
                bail!("{} is named for two outputs", out.display());
            }
        }
    }
    Ok(())
}

fn check_name(out: &Path, kind: Kind) -> Result<()> {
    let ext = extension(out);
    match kind {
        Kind::Container => check_container_name(out),
        Kind::Png if ext != "png" => bail!(
            "{}: this output is a PNG picture; name it *.png",
            out.display()
        ),
        Kind::Npy if ext != "npy" => bail!(
            "{}: this output is a NumPy array; name it *.npy",
            out.display()
        ),
        Kind::PngOrNpy if ext != "png" && ext != "npy" => bail!(
            "cannot write {} as {}: name it *.png or *.npy (a PNG of the image or of a render of the difference, or the exact values for NumPy)",
            out.display(),
            if ext.is_empty() { "a file without extension".to_string() } else { ext.to_uppercase() }
        ),
        _ => Ok(()),
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Whether `path` exists and holds a PICRYPT key file (of any scheme or kind).
fn is_key_file(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 8];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && picrypt_core::keyfile::looks_like_key_file(&head)
}

/// Whether two paths name the same file: the same canonical path, or (when both exist)
/// the same device and inode.
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(ma), Ok(mb)) = (fs::metadata(a), fs::metadata(b)) {
            return (ma.dev(), ma.ino()) == (mb.dev(), mb.ino());
        }
    }
    let canonical = |p: &Path| -> Option<PathBuf> {
        match fs::canonicalize(p) {
            Ok(c) => Some(c),
            // Not there yet: its directory's canonical path and its name.
            Err(_) => Some(fs::canonicalize(parent_dir(p)).ok()?.join(p.file_name()?)),
        }
    };
    matches!((canonical(a), canonical(b)), (Some(x), Some(y)) if x == y)
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, synced to the disk,
/// then a rename. Never over a key file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_output(path, bytes, Sync::Yes)
}

/// [`write_atomic`] without waiting for the bytes to reach the disk (which costs ~5 ms a
/// file): for the many outputs whose digests a manifest records, so that one a crash
/// damaged is found and redone rather than trusted. Still all or nothing for any reader,
/// and never over a key file.
pub fn write_atomic_unsynced(path: &Path, bytes: &[u8]) -> Result<()> {
    write_output(path, bytes, Sync::No)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sync {
    Yes,
    No,
}

fn write_output(path: &Path, bytes: &[u8], sync: Sync) -> Result<()> {
    if is_key_file(path) {
        bail!(
            "{} is a key file: refusing to overwrite it with an output (only `picrypt keygen --force` replaces a key)",
            path.display()
        );
    }
    write_with_mode(path, bytes, 0o644, true, sync)
}

fn write_with_mode(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    overwrite: bool,
    sync: Sync,
) -> Result<()> {
    if !overwrite && path.exists() {
        bail!(
            "{} already exists; refusing to overwrite a key (pass --force to replace it)",
            path.display()
        );
    }
    let mut out = AtomicOutput::with_mode(path, mode)?;
    out.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    out.persist(sync)
}

/// An output written a piece at a time into a temporary file beside it, which becomes
/// the output only at [`AtomicOutput::commit`] (synced, then renamed over it): until
/// then nothing of it is visible under its name, and dropped uncommitted the temporary
/// file is deleted. So a half-written or unverified output never remains.
pub struct AtomicOutput {
    path: PathBuf,
    tmp: std::io::BufWriter<tempfile::NamedTempFile>,
}

impl AtomicOutput {
    /// Starts the output `path` (mode 0644).
    pub fn create(path: &Path) -> Result<AtomicOutput> {
        AtomicOutput::with_mode(path, 0o644)
    }

    fn with_mode(path: &Path, mode: u32) -> Result<AtomicOutput> {
        let dir = parent_dir(path);
        if !dir.is_dir() {
            bail!(
                "cannot write {}: directory {} does not exist",
                path.display(),
                dir.display()
            );
        }
        let tmp = tempfile::Builder::new()
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
        Ok(AtomicOutput {
            path: path.to_path_buf(),
            tmp: std::io::BufWriter::with_capacity(1 << 20, tmp),
        })
    }

    /// The output's final name.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A second handle on the temporary file, sharing its position, for an encoder that
    /// must own its writer (the PNG stream writer): what this output buffered is written
    /// first, and nothing more may be written through this output itself.
    pub fn handle(&mut self) -> Result<fs::File> {
        self.tmp
            .flush()
            .and_then(|()| self.tmp.get_ref().as_file().try_clone())
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// Writes `bytes` at the start of the file, over what is there (a header reserved
    /// and written last), and goes back to the end.
    pub fn write_at_start(&mut self, bytes: &[u8]) -> Result<()> {
        use std::io::{Seek, SeekFrom};
        let path = self.path.clone();
        let written = (|| {
            self.tmp.flush()?;
            let file = self.tmp.get_mut();
            file.seek(SeekFrom::Start(0))?;
            file.write_all(bytes)?;
            file.seek(SeekFrom::End(0))?;
            Ok::<_, std::io::Error>(())
        })();
        written.with_context(|| format!("cannot write {}", path.display()))
    }

    /// Makes the output visible under its name, whole: synced to the disk, then renamed
    /// over whatever was there (never over a key file).
    pub fn commit(self) -> Result<()> {
        if is_key_file(&self.path) {
            bail!(
                "{} is a key file: refusing to overwrite it with an output (only `picrypt keygen --force` replaces a key)",
                self.path.display()
            );
        }
        self.persist(Sync::Yes)
    }

    fn persist(self, sync: Sync) -> Result<()> {
        let path = self.path;
        let tmp = self
            .tmp
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|tmp| match sync {
                Sync::Yes => tmp.as_file().sync_all().map(|()| tmp),
                Sync::No => Ok(tmp),
            })
            .with_context(|| format!("cannot write {}", path.display()))?;
        tmp.persist(&path)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }
}

impl Write for AtomicOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tmp.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.tmp.write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.tmp.flush()
    }
}

/// Writes a key file readable by its owner only.
pub fn write_key(path: &Path, key: &Key, force: bool) -> Result<()> {
    let mode = if key.is_secret() { 0o600 } else { 0o644 };
    write_with_mode(path, &key.to_bytes(), mode, force, Sync::Yes)
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

/// Reads and decodes an image file, the right way up (EXIF orientation applied).
pub fn read_image(path: &Path) -> Result<Image> {
    Ok(read_image_oriented(path)?.0)
}

/// [`read_image`], also saying which EXIF orientation was applied.
pub fn read_image_oriented(path: &Path) -> Result<(Image, image_io::Orientation)> {
    image_io::decode_oriented_from(open_buffered(path)?)
        .with_context(|| format!("{}", path.display()))
}

/// How many samples the image file at `path` decodes to, from its header alone.
pub fn image_samples(path: &Path) -> Result<u64> {
    image_io::samples_in(open_buffered(path)?).with_context(|| format!("{}", path.display()))
}

fn open_buffered(path: &Path) -> Result<std::io::BufReader<fs::File>> {
    Ok(std::io::BufReader::with_capacity(1 << 16, open_file(path)?))
}

/// Opens a file to read; a directory is refused here, as reading it whole would be, not
/// later by whatever reads it.
fn open_file(path: &Path) -> Result<fs::File> {
    fs::File::open(path)
        .and_then(|file| match file.metadata()?.is_dir() {
            true => Err(std::io::ErrorKind::IsADirectory.into()),
            false => Ok(file),
        })
        .with_context(|| format!("cannot read {}", path.display()))
}

/// A container file opened to be read a chunk at a time: its header parsed, its length
/// checked against the header, the file positioned at the payload.
pub struct ContainerFile {
    path: PathBuf,
    /// The header's bytes, exactly.
    head: Vec<u8>,
    header: picrypt_core::Header,
    reader: std::io::BufReader<fs::File>,
}

impl ContainerFile {
    /// Opens `path`; a malformed container is refused naming the file (and `which` input
    /// it is, when given), before anything else is done with it.
    pub fn open(path: &Path, which: Option<&str>) -> Result<ContainerFile> {
        use std::io::Read;
        let file =
            fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        let len = file
            .metadata()
            .with_context(|| format!("cannot read {}", path.display()))?
            .len();
        let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
        let mut head = Vec::new();
        (&mut reader)
            .take(picrypt_core::format::MAX_HEADER_LEN.min(len as usize) as u64)
            .read_to_end(&mut head)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let name = |e: picrypt_core::Error| {
            let e = match which {
                Some(w) => e.in_input(w),
                None => e,
            };
            anyhow::Error::from(e).context(path.display().to_string())
        };
        let (header, header_len) = picrypt_core::Header::parse(&head).map_err(name)?;
        header.check_container_len(header_len, len).map_err(name)?;
        // What was read past the header is the payload's start: read it again.
        let extra = head.split_off(header_len);
        reader
            .seek_relative(-(extra.len() as i64))
            .with_context(|| format!("cannot read {}", path.display()))?;
        Ok(ContainerFile {
            path: path.to_path_buf(),
            head,
            header,
            reader,
        })
    }

    /// The header's bytes.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// The parsed header.
    pub fn header(&self) -> &picrypt_core::Header {
        &self.header
    }

    /// Appends the next `n` bytes of the payload to `out`.
    pub fn read(&mut self, n: usize, out: &mut Vec<u8>) -> Result<()> {
        use std::io::Read;
        let at = out.len();
        out.resize(at + n, 0);
        self.reader
            .read_exact(&mut out[at..])
            .with_context(|| format!("cannot read {} (did it change?)", self.path.display()))
    }
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
