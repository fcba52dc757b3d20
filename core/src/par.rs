//! Data parallelism where the build has threads (`parallel` feature: rayon), the same
//! code run sequentially where it has none (a browser). Callers write
//! `x.par_chunks_mut(n).zip(y.par_chunks(n)).enumerate().map(f).collect()` either way:
//! without the feature these are the standard library's iterators.

#[cfg(feature = "parallel")]
pub(crate) use rayon::prelude::{
    IndexedParallelIterator, ParallelIterator, ParallelSlice, ParallelSliceMut,
};

/// `par_chunks` as plain `chunks` when the build has no threads.
#[cfg(not(feature = "parallel"))]
pub(crate) trait ParallelSlice<T> {
    fn par_chunks(&self, size: usize) -> std::slice::Chunks<'_, T>;
}

#[cfg(not(feature = "parallel"))]
impl<T> ParallelSlice<T> for [T] {
    fn par_chunks(&self, size: usize) -> std::slice::Chunks<'_, T> {
        self.chunks(size)
    }
}

/// `par_chunks_mut` as plain `chunks_mut` when the build has no threads.
#[cfg(not(feature = "parallel"))]
pub(crate) trait ParallelSliceMut<T> {
    fn par_chunks_mut(&mut self, size: usize) -> std::slice::ChunksMut<'_, T>;
}

#[cfg(not(feature = "parallel"))]
impl<T> ParallelSliceMut<T> for [T] {
    fn par_chunks_mut(&mut self, size: usize) -> std::slice::ChunksMut<'_, T> {
        self.chunks_mut(size)
    }
}
