//! Transparent huge pages for the large, randomly read arrays of training (embedding tables,
//! encoded field columns).
//!
//! A step reads a few rows at random from tables and columns of tens to hundreds of megabytes;
//! with 4 KiB pages nearly every such read also misses the TLB and walks the page table. Linux
//! backs an allocation with 2 MiB pages when asked (`madvise(MADV_HUGEPAGE)`, honoured under
//! the common `transparent_hugepage=madvise` setting) before its pages are first touched. On 10 M
//! rows with ten fields (tables up to 1 M rows), NCF over fields trained at 0.68–0.71 M samples/s
//! without and 0.70–0.72 M with it (two runs each, 2 cores): a few percent, as the random reads
//! still miss the caches. Elsewhere, and for vectors below the allocator's mmap threshold, this
//! does nothing.

/// Vectors at least this large are worth advising (smaller ones come from the heap, not mmap).
const MIN_BYTES: usize = 32 << 20;

/// An empty vector with room for `capacity` elements whose pages the kernel is asked to back
/// with huge pages; fill it with `extend` / `push` (the first touch allocates the pages).
pub fn vec_with_capacity<T>(capacity: usize) -> Vec<T> {
    let v: Vec<T> = Vec::with_capacity(capacity);
    advise(v.as_ptr().cast(), capacity * std::mem::size_of::<T>());
    v
}

/// `iter` collected into a vector of `len` elements advised as in [`vec_with_capacity`].
pub fn collect<T>(len: usize, iter: impl Iterator<Item = T>) -> Vec<T> {
    let mut v = vec_with_capacity(len);
    v.extend(iter);
    v
}

fn advise(ptr: *const u8, bytes: usize) {
    if bytes < MIN_BYTES {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = (ptr as usize).div_ceil(HUGE) * HUGE;
        let end = (ptr as usize + bytes) / HUGE * HUGE;
        if end > start {
            // SAFETY: the range lies inside this process's live allocation; MADV_HUGEPAGE only
            // changes how the kernel backs it, never its contents, and a failure is harmless.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = ptr;
}

#[cfg(test)]
mod tests {
    #[test]
    fn advised_vectors_hold_what_was_collected() {
        let v = super::collect(10_000_000, (0..10_000_000u32).map(|x| x ^ 7));
        assert_eq!(v.len(), 10_000_000);
        assert_eq!(v[12_345], 12_345 ^ 7);
        let small: Vec<u8> = super::collect(3, [1u8, 2, 3].into_iter());
        assert_eq!(small, [1, 2, 3]);
    }
}
