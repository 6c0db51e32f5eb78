//! Sync through a folder the user already syncs (Syncthing, Dropbox, iCloud Drive, a git
//! checkout): each machine writes its own sealed, chained records under `devices/<its id>/`, and
//! reads and merges everyone else's. The pure parts: what a record says and how records merge
//! ([`merge`]), and the sealed file format ([`record`]). docs/DECISIONS.md, "Sync through a
//! folder", has the design.

pub mod merge;
pub mod record;
