//! Overrides declared in record files: `overrides:` entries that `gslb
//! crd-sync` writes from GslbOverride objects (or an operator writes by
//! hand). They are part of the config: a reload brings them and takes them
//! away, and the admin API cannot change them.

/// Longest reason kept, in characters: the admin API's bound too.
pub const MAX_REASON: usize = 256;

/// What a declared override forces. Clearing is deleting the entry, so
/// there is no `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OverrideState {
    /// Answer the set's targets whatever the probes say.
    Up,
    /// Drain the set.
    Down,
}

impl OverrideState {
    /// `up` or `down`, as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
        }
    }

    /// What it does to a set: `drained` or `forced up`.
    pub fn effect(self) -> &'static str {
        match self {
            Self::Up => "forced up",
            Self::Down => "drained",
        }
    }
}

/// One validated `overrides:` entry of a record file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOverride {
    /// The record, fully qualified.
    pub record: crate::name::Name,
    /// The set id.
    pub set: String,
    /// What it forces.
    pub state: OverrideState,
    /// Why, as the object says.
    pub reason: Option<String>,
    /// Where it comes from, `CLUSTER/NAMESPACE/NAME` of a GslbOverride;
    /// `None` for an entry written by hand.
    pub object: Option<String>,
    /// When it was declared (RFC 3339), when known.
    pub at: Option<String>,
    /// The record file it is in, for messages.
    pub file: std::sync::Arc<str>,
}

impl FileOverride {
    /// Who to go to to change it: `GslbOverride CLUSTER/NAMESPACE/NAME`,
    /// or the record file.
    pub fn origin(&self) -> String {
        match &self.object {
            Some(object) => format!("GslbOverride {object}"),
            None => format!("record file {}", self.file),
        }
    }

    /// How to clear it.
    pub fn how_to_clear(&self) -> &'static str {
        if self.object.is_some() {
            "delete the object to clear it"
        } else {
            "remove the entry from the file to clear it"
        }
    }
}
