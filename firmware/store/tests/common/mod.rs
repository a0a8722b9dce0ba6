//! Helpers shared by the integration tests.

use std::collections::BTreeMap;
use std::path::Path;

/// (tree name, key) → value.
pub type RawRecords = BTreeMap<(Vec<u8>, Vec<u8>), Vec<u8>>;

/// Every record of every tree of the (closed) database in `dir`, read with sled
/// directly, to see what the store's API would not show (index entries, counters).
pub fn raw_contents(dir: &Path) -> RawRecords {
    let db = open_raw(dir);
    let mut records = BTreeMap::new();
    for name in db.tree_names() {
        for entry in db.open_tree(&name).expect("open tree").iter() {
            let (key, value) = entry.expect("read record");
            records.insert((name.to_vec(), key.to_vec()), value.to_vec());
        }
    }
    records
}

/// Opens the database with sled directly, waiting (as `Store::open` does) for the
/// threads of a store just dropped to let go of the file lock.
pub fn open_raw(dir: &Path) -> sled::Db {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match dvbgate_store::sled_config(dir).open() {
            Err(error)
                if error.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            result => return result.expect("raw open"),
        }
    }
}
