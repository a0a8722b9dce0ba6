//! Helpers shared by the integration tests.

use std::collections::BTreeMap;
use std::path::Path;

/// (tree name, key) → value.
pub type RawRecords = BTreeMap<(Vec<u8>, Vec<u8>), Vec<u8>>;

/// Every record of every tree of the (closed) database in `dir`, read with sled
/// directly, to see what the store's API would not show (index entries, counters).
pub fn raw_contents(dir: &Path) -> RawRecords {
    let db = dvbgate_store::sled_config(dir).open().expect("raw open");
    let mut records = BTreeMap::new();
    for name in db.tree_names() {
        for entry in db.open_tree(&name).expect("open tree").iter() {
            let (key, value) = entry.expect("read record");
            records.insert((name.to_vec(), key.to_vec()), value.to_vec());
        }
    }
    records
}
