//! Conditional Access Table (ISO/IEC 13818-1 §2.4.4.6): which CA systems send EMMs, and where.

use super::{TableError, malformed, table_id};
use crate::descriptor;
use crate::section::Section;

/// `(CA_system_id, EMM PID)` pairs.
pub fn parse(section: &Section<'_>) -> Result<Vec<(u16, u16)>, TableError> {
    if section.table_id() != table_id::CAT {
        return Err(malformed("CAT", "not a CAT section"));
    }
    Ok(descriptor::ca_descriptors(section.payload()).collect())
}
