//! The columns a user hid in the table ("Manage columns", Ctrl-O), kept in a small JSON file so
//! the choice outlives the run: `$NETOBSERV_CLI_COLUMNS`, else
//! `$XDG_CONFIG_HOME/netobserv/cli-columns.json`, else `~/.config/netobserv/cli-columns.json`.
//!
//! The file records hidden columns only (by [`Column::id`](super::columns::Column::id)), so a
//! column added by a later version shows until the user hides it. A file that cannot be read
//! or parsed is ignored with a warning: a broken preference must never stop a capture.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Environment variable naming the columns file explicitly.
pub const COLUMNS_ENV: &str = "NETOBSERV_CLI_COLUMNS";

/// Why the columns file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PrefsError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not the JSON this module writes.
    #[error("{path}: not a columns file: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The error.
        source: serde_json::Error,
    },
}

/// The file's content.
#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    /// Ids of the hidden columns.
    hidden: BTreeSet<String>,
}

/// Where the columns file is, from an environment lookup (a function, so tests need not change
/// the process environment): `None` when neither the override, `XDG_CONFIG_HOME` nor `HOME`
/// says.
pub fn path_from(env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let set = |k: &str| env(k).filter(|v| !v.is_empty());
    if let Some(p) = set(COLUMNS_ENV) {
        return Some(PathBuf::from(p));
    }
    // The XDG spec ignores a relative XDG_CONFIG_HOME.
    let config = set("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| set("HOME").map(|h| Path::new(&h).join(".config")))?;
    Some(config.join("netobserv").join("cli-columns.json"))
}

/// The columns file of this process's environment.
pub fn default_path() -> Option<PathBuf> {
    path_from(|k| std::env::var(k).ok())
}

/// The hidden columns, and where to save them.
#[derive(Clone, Debug, Default)]
pub struct ColumnPrefs {
    path: Option<PathBuf>,
    hidden: BTreeSet<String>,
    /// Why the file was ignored at load, shown once in the TUI (the log is not visible there).
    pub warning: Option<String>,
}

impl ColumnPrefs {
    /// Defaults (every column shown), saved nowhere.
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// Loads `path` (a missing file is the defaults); a corrupt one gives the defaults and a
    /// logged [`warning`](Self::warning). Changes are saved back to `path`.
    pub fn load(path: PathBuf) -> Self {
        let mut prefs = Self {
            path: Some(path.clone()),
            ..Self::default()
        };
        match read(&path) {
            Ok(Some(f)) => prefs.hidden = f.hidden,
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(%e, "ignoring the columns file; using the default columns");
                prefs.warning = Some(format!("ignored {e}"));
            }
        }
        prefs
    }

    /// Where changes are saved.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Whether the column with this id is shown.
    pub fn shown(&self, id: &str) -> bool {
        !self.hidden.contains(id)
    }

    /// Shows or hides a column, then saves.
    pub fn toggle(&mut self, id: &str) -> Result<(), PrefsError> {
        if !self.hidden.remove(id) {
            self.hidden.insert(id.to_string());
        }
        self.save()
    }

    /// Shows every column again, then saves.
    pub fn restore_defaults(&mut self) -> Result<(), PrefsError> {
        self.hidden.clear();
        self.save()
    }

    /// Writes the file (through a temporary file renamed over it, so a crash mid-write leaves
    /// the old choice rather than a corrupt file).
    fn save(&self) -> Result<(), PrefsError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let io = |source| PrefsError::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let body = serde_json::to_vec_pretty(&File {
            hidden: self.hidden.clone(),
        })
        .map_err(|source| PrefsError::Parse {
            path: path.clone(),
            source,
        })?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, body).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

fn read(path: &Path) -> Result<Option<File>, PrefsError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(PrefsError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| PrefsError::Parse {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_string())
        }
    }

    #[test]
    fn the_override_then_xdg_then_home() {
        let p = |vars: &[(&str, &str)]| path_from(env(vars));
        assert_eq!(
            p(&[(COLUMNS_ENV, "/tmp/c.json"), ("HOME", "/home/u")]),
            Some(PathBuf::from("/tmp/c.json"))
        );
        assert_eq!(
            p(&[("XDG_CONFIG_HOME", "/xdg"), ("HOME", "/home/u")]),
            Some(PathBuf::from("/xdg/netobserv/cli-columns.json"))
        );
        assert_eq!(
            p(&[("XDG_CONFIG_HOME", "relative"), ("HOME", "/home/u")]),
            Some(PathBuf::from("/home/u/.config/netobserv/cli-columns.json"))
        );
        assert_eq!(
            p(&[(COLUMNS_ENV, ""), ("HOME", "/home/u")]),
            Some(PathBuf::from("/home/u/.config/netobserv/cli-columns.json"))
        );
        assert_eq!(p(&[]), None);
    }
}
