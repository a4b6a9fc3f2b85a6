//! A folder standing in for the S3 bucket: keys are relative paths.

use crate::ports::{ObjectStore, ObjectVersion, ObjectWriter, PortError, PortResult};
use async_trait::async_trait;
use std::path::{Path, PathBuf};

pub struct FolderStore {
    root: PathBuf,
}

impl FolderStore {
    pub fn new(root: PathBuf) -> PortResult<Self> {
        std::fs::create_dir_all(&root).map_err(|e| io(&root, e))?;
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of a key; keys that would leave the folder are refused.
    pub fn path_of(&self, key: &str) -> PortResult<PathBuf> {
        let safe = !key.is_empty()
            && !key.starts_with('/')
            && !key.contains('\\')
            && !key.contains('\0')
            && key.split('/').all(|part| !part.is_empty() && part != "." && part != "..");
        if !safe {
            return Err(PortError::Unexpected(format!("refusing the object key {key:?}")));
        }
        Ok(self.root.join(key))
    }
}

/// What a file URL's path must escape: controls, spaces and the characters that end or change
/// a URL's path.
const FILE_URL_PATH: &percent_encoding::AsciiSet =
    &percent_encoding::CONTROLS.add(b' ').add(b'"').add(b'#').add(b'%').add(b'<').add(b'>').add(b'?').add(b'`').add(b'{').add(b'}');

/// A temporary file beside `path`, its own for each write in flight (listing skips `.tmp`).
fn temp_path(path: &Path) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let number = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!("{name}.tmp{}-{number}", std::process::id()))
}

fn io(path: &Path, error: std::io::Error) -> PortError {
    if error.kind() == std::io::ErrorKind::NotFound {
        PortError::NotFound(path.display().to_string())
    } else {
        PortError::Unexpected(format!("{}: {error}", path.display()))
    }
}

#[async_trait]
impl ObjectStore for FolderStore {
    /// A folder keeps no versions: the current file, its size checked before it is read.
    async fn open_at(&self, key: &str, _version: &ObjectVersion, max_bytes: u64) -> PortResult<Box<dyn std::io::Read + Send>> {
        let path = self.path_of(key)?;
        let size = std::fs::metadata(&path).map_err(|e| io(&path, e))?.len();
        if size > max_bytes {
            return Err(PortError::TooLarge { bytes: size, limit: max_bytes });
        }
        self.open(key).await
    }

    /// The current file (a folder keeps no versions), from `start` on.
    async fn open_range(
        &self,
        key: &str,
        _version: Option<&ObjectVersion>,
        start: u64,
        end: u64,
    ) -> PortResult<Box<dyn std::io::Read + Send>> {
        use std::io::{Read, Seek};
        let path = self.path_of(key)?;
        let mut file = std::fs::File::open(&path).map_err(|e| io(&path, e))?;
        file.seek(std::io::SeekFrom::Start(start)).map_err(|e| io(&path, e))?;
        Ok(Box::new(std::io::BufReader::with_capacity(256 * 1024, file).take(end.saturating_sub(start))))
    }

    async fn open(&self, key: &str) -> PortResult<Box<dyn std::io::Read + Send>> {
        let path = self.path_of(key)?;
        let file = std::fs::File::open(&path).map_err(|e| io(&path, e))?;
        Ok(Box::new(std::io::BufReader::with_capacity(256 * 1024, file)))
    }

    async fn get(&self, key: &str) -> PortResult<Vec<u8>> {
        let path = self.path_of(key)?;
        std::fs::read(&path).map_err(|e| io(&path, e))
    }

    async fn put(&self, key: &str, bytes: Vec<u8>, _content_type: &str) -> PortResult<()> {
        let path = self.path_of(key)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        // Write then rename, so a reader never sees half an object.
        let temp = temp_path(&path);
        std::fs::write(&temp, bytes).map_err(|e| io(&temp, e))?;
        std::fs::rename(&temp, &path).map_err(|e| io(&path, e))
    }

    /// A temporary file beside the key's, renamed into place by `finish`.
    async fn create<'a>(&'a self, key: &str, _content_type: &str) -> PortResult<Box<dyn ObjectWriter + 'a>> {
        let path = self.path_of(key)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        let temp = temp_path(&path);
        let file = std::fs::File::create(&temp).map_err(|e| io(&temp, e))?;
        Ok(Box::new(FileObject { file: std::io::BufWriter::with_capacity(256 * 1024, file), temp, path }))
    }

    /// A `file://` URL of the key's file, its path percent-encoded.
    async fn share_link(&self, key: &str) -> PortResult<Option<String>> {
        let path = self.path_of(key)?;
        let path = std::path::absolute(&path).map_err(|e| io(&path, e))?;
        let text = path.to_string_lossy().replace('\\', "/");
        let encoded = percent_encoding::utf8_percent_encode(&text, FILE_URL_PATH).to_string();
        Ok(Some(if encoded.starts_with('/') { format!("file://{encoded}") } else { format!("file:///{encoded}") }))
    }

    async fn list(&self, prefix: &str) -> PortResult<Vec<String>> {
        let mut keys = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&dir, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| io(&dir, e))?;
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(relative) = path.strip_prefix(&self.root) {
                    let key = relative.to_string_lossy().replace('\\', "/");
                    if key.starts_with(prefix) && !key.contains(".tmp") {
                        keys.push(key);
                    }
                }
            }
        }
        keys.sort();
        Ok(keys)
    }
}

/// An object of the folder being written: see [`FolderStore::create`].
struct FileObject {
    file: std::io::BufWriter<std::fs::File>,
    temp: PathBuf,
    path: PathBuf,
}

#[async_trait]
impl ObjectWriter for FileObject {
    async fn write(&mut self, bytes: &[u8]) -> PortResult<()> {
        std::io::Write::write_all(&mut self.file, bytes).map_err(|e| io(&self.temp, e))
    }

    async fn finish(self: Box<Self>) -> PortResult<()> {
        let mut this = self;
        std::io::Write::flush(&mut this.file).map_err(|e| io(&this.temp, e))?;
        std::fs::rename(&this.temp, &this.path).map_err(|e| io(&this.path, e))
    }
}

impl Drop for FileObject {
    /// An unfinished object leaves no temporary file behind (after `finish` it is gone already).
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.temp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn objects_round_trip_and_keys_cannot_escape() {
        let dir = tempfile::tempdir().unwrap();
        let store = FolderStore::new(dir.path().join("bucket")).unwrap();
        store.put("reports/a/plan.csv", b"x".to_vec(), "text/csv").await.unwrap();
        assert_eq!(store.get("reports/a/plan.csv").await.unwrap(), b"x");
        assert_eq!(store.list("reports/").await.unwrap(), ["reports/a/plan.csv"]);
        for bad in ["../x", "a/../../x", "/etc/passwd", "a//b", ""] {
            assert!(store.put(bad, vec![], "x").await.is_err(), "{bad}");
        }
        assert!(matches!(store.get("missing").await, Err(PortError::NotFound(_))));
    }
}
