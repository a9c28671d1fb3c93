//! The latency histogram: log-linear buckets of microseconds, 32 per power of two.

/// Sub-buckets per power of two in the latency histogram: 32, so a bucket is at most 1/32
/// (3.1 %) of its values wide and a percentile read at its midpoint is within ±1.6 %.
const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
/// Latencies are recorded in microseconds up to 2^36 µs (about 19 hours); longer ones land in
/// the last bucket.
const MAX_EXPONENT: u32 = 35;
/// The number of buckets.
pub(super) const HISTOGRAM_LEN: usize = ((MAX_EXPONENT - SUB_BITS + 2) as usize) * SUB as usize;

/// The bucket of a latency of `micros` microseconds.
pub(super) fn histogram_index(micros: u64) -> usize {
    let micros = micros.min((1 << (MAX_EXPONENT + 1)) - 1);
    if micros < SUB {
        return micros as usize;
    }
    let exponent = 63 - micros.leading_zeros();
    let shift = exponent - SUB_BITS;
    (((exponent - SUB_BITS + 1) as usize) << SUB_BITS) + ((micros >> shift) & (SUB - 1)) as usize
}

/// The midpoint of a histogram bucket, in microseconds.
pub(super) fn histogram_value(index: usize) -> f64 {
    let index = index as u64;
    if index < SUB {
        return index as f64;
    }
    let shift = (index >> SUB_BITS) - 1;
    let low = ((index & (SUB - 1)) | SUB) << shift;
    let width = 1u64 << shift;
    #[allow(clippy::cast_precision_loss)]
    let midpoint = low as f64 + (width as f64 - 1.0) / 2.0;
    midpoint
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_contiguous_and_precise() {
        let mut previous = 0;
        for micros in 0..200_000u64 {
            let index = histogram_index(micros);
            assert!(index == previous || index == previous + 1, "{micros}");
            previous = index;
            let value = histogram_value(index);
            assert!(
                (value - micros as f64).abs() <= (micros as f64 / 32.0).max(0.0) + 0.5,
                "{micros}: {value}"
            );
        }
        assert_eq!(histogram_index(u64::MAX), HISTOGRAM_LEN - 1);
    }
}
