//! The working memory of argon2id: a fixed pool of two 12 MiB buffers, reused by every
//! password hash and verification of the process.
//!
//! argon2 is memory-hard on purpose: each hash fills [`BUFFER_BLOCKS`] blocks of 1 KiB.
//! Letting argon2 allocate that memory per call looks harmless, but glibc's allocator
//! raises its mmap threshold after the first large block it frees, so later 12 MiB
//! blocks come from the heap and stay there: a hundred wrong logins left the daemon at
//! 500 MB resident. Here the buffers are allocated on first use and never freed, so
//! however many logins fail, argon2 holds at most [`POOL_BUFFERS`] × 12 MiB. A caller
//! that finds both buffers in use waits (callers run on blocking threads); the pool
//! bounds the memory by itself, whatever limits the API puts on concurrency.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use argon2::Block;

use crate::users::ARGON2_M_COST_KIB;

/// How many argon2 buffers the process may hold: two logins hash at once, a third
/// waits.
pub(crate) const POOL_BUFFERS: usize = 2;
/// Blocks (of 1 KiB) per buffer: the memory cost of the hashes this store writes. A
/// stored hash asking for more is refused rather than verified (see
/// [`crate::verify_password`]).
pub(crate) const BUFFER_BLOCKS: usize = ARGON2_M_COST_KIB as usize;

struct Pool {
    /// Buffers not lent out.
    free: Vec<Box<[Block]>>,
    /// Buffers allocated so far (lent out or free); never above [`POOL_BUFFERS`].
    allocated: usize,
    /// How often a caller had to wait for a buffer (for the tests).
    waits: u64,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    free: Vec::new(),
    allocated: 0,
    waits: 0,
});
/// Signalled when a buffer goes back into the pool.
static RETURNED: Condvar = Condvar::new();

fn lock() -> MutexGuard<'static, Pool> {
    // The lock is only held to move a buffer in or out, which cannot panic halfway:
    // a poisoned pool is still consistent.
    POOL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One buffer lent out of the pool; goes back when dropped.
pub(crate) struct Lease {
    blocks: Option<Box<[Block]>>,
}

impl Lease {
    /// The blocks, [`BUFFER_BLOCKS`] of them (argon2 uses the first `block_count`).
    pub(crate) fn blocks(&mut self) -> &mut [Block] {
        self.blocks.as_deref_mut().unwrap_or(&mut [])
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(blocks) = self.blocks.take() {
            lock().free.push(blocks);
            RETURNED.notify_one();
        }
    }
}

/// Takes a buffer from the pool: a free one, a new one while fewer than
/// [`POOL_BUFFERS`] exist, or else waits until one comes back. Blocks the thread.
pub(crate) fn lease() -> Lease {
    let mut pool = lock();
    let mut waited = false;
    loop {
        if let Some(blocks) = pool.free.pop() {
            return Lease {
                blocks: Some(blocks),
            };
        }
        if pool.allocated < POOL_BUFFERS {
            pool.allocated += 1;
            // Allocated outside the lock: other callers may return buffers meanwhile.
            drop(pool);
            return Lease {
                blocks: Some(vec![Block::new(); BUFFER_BLOCKS].into_boxed_slice()),
            };
        }
        if !waited {
            waited = true;
            pool.waits += 1;
        }
        pool = RETURNED.wait(pool).unwrap_or_else(PoisonError::into_inner);
    }
}

/// Buffers allocated so far by the process (never more than [`POOL_BUFFERS`]).
#[cfg(test)]
pub(crate) fn allocated_buffers() -> usize {
    lock().allocated
}

/// How many callers so far found every buffer in use and waited.
#[cfg(test)]
pub(crate) fn waits() -> u64 {
    lock().waits
}
