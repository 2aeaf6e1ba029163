//! Error protection for the invisible payload: CRC-16 to reject wrong decodes, then a
//! rate-1/2, constraint-length-7 convolutional code (generators 171/133 octal, the classic
//! NASA pair) decoded with a soft-decision Viterbi search.

/// Payload bits carried by the mark.
pub(super) const PAYLOAD_BITS: usize = 64;
/// Payload plus its CRC-16.
pub(super) const INFO_BITS: usize = PAYLOAD_BITS + 16;
/// Shift-register memory of the convolutional code (constraint length − 1).
const MEMORY: usize = 6;
/// Trellis states.
const STATES: usize = 1 << MEMORY;
/// Generator polynomials over the 7-bit register (newest bit in the least significant place).
const GENERATORS: [u32; 2] = [0o171, 0o133];
/// Channel bits after encoding, including the zero tail that returns the encoder to state 0.
pub(super) const CODED_BITS: usize = (INFO_BITS + MEMORY) * 2;

/// CRC-16/CCITT-FALSE over the payload's big-endian bytes.
pub(super) fn crc16(payload: u64) -> u16 {
    crc16_bytes(&payload.to_be_bytes())
}

/// CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor).
fn crc16_bytes(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc
}

/// Payload then CRC, most significant bit first.
fn info_bits(payload: u64) -> [bool; INFO_BITS] {
    let crc = crc16(payload);
    std::array::from_fn(|i| match i.checked_sub(PAYLOAD_BITS) {
        None => (payload >> (PAYLOAD_BITS - 1 - i)) & 1 == 1,
        Some(j) => (crc >> (15 - j)) & 1 == 1,
    })
}

/// The two output bits for a 7-bit register value.
fn outputs(register: u32) -> [bool; 2] {
    GENERATORS.map(|g| (register & g).count_ones() % 2 == 1)
}

/// Encodes the payload (with CRC and tail) into the channel bits the mark carries.
pub(super) fn encode(payload: u64) -> Vec<bool> {
    let mut coded = Vec::with_capacity(CODED_BITS);
    let mut state: u32 = 0;
    let tail = [false; MEMORY];
    for bit in info_bits(payload).iter().chain(&tail) {
        let register = (state << 1) | u32::from(*bit);
        coded.extend(outputs(register));
        state = register & (STATES as u32 - 1);
    }
    coded
}

/// What the Viterbi search found in a set of soft channel bits.
pub(super) struct Decoded {
    /// The 64 payload bits, whether or not the CRC matched.
    pub payload: u64,
    /// True when the decoded CRC equals the CRC of the decoded payload.
    pub crc_ok: bool,
}

/// Soft-decision Viterbi decode; `soft[i] > 0` means channel bit `i` is more likely 1.
///
/// Missing trailing values count as erasures (zero), extra ones are ignored.
pub(super) fn decode(soft: &[f32]) -> Decoded {
    const STEPS: usize = INFO_BITS + MEMORY;
    // Path metric = correlation between the candidate codeword (as ±1) and the soft bits.
    let mut metric = [f32::NEG_INFINITY; STATES];
    metric[0] = 0.0;
    // decisions[step] bit s = which of the two predecessors won for state s.
    let mut decisions = [0u64; STEPS];
    let soft_at = |i: usize| soft.get(i).copied().unwrap_or(0.0);
    let sign = |bit: bool| if bit { 1.0f32 } else { -1.0 };
    for (step, decision) in decisions.iter_mut().enumerate() {
        let (s0, s1) = (soft_at(2 * step), soft_at(2 * step + 1));
        let mut next = [f32::NEG_INFINITY; STATES];
        for (state, slot) in next.iter_mut().enumerate() {
            let bit = state as u32 & 1;
            // Tail steps only accept zero inputs.
            if step >= INFO_BITS && bit == 1 {
                continue;
            }
            let mut best = f32::NEG_INFINITY;
            let mut chose_high = false;
            for high in [false, true] {
                let prev = (state >> 1) | if high { STATES / 2 } else { 0 };
                let register = ((prev as u32) << 1) | bit;
                let [o0, o1] = outputs(register);
                let previous = metric.get(prev).copied().unwrap_or(f32::NEG_INFINITY);
                let candidate = previous + sign(o0) * s0 + sign(o1) * s1;
                if candidate > best {
                    best = candidate;
                    chose_high = high;
                }
            }
            *slot = best;
            if chose_high {
                *decision |= 1 << state;
            }
        }
        metric = next;
    }
    // The tail forces state 0 at the end; walk back from there.
    let mut state = 0usize;
    let mut bits = [false; STEPS];
    for (bit, decision) in bits.iter_mut().zip(&decisions).rev() {
        *bit = state & 1 == 1;
        let high = (decision >> state) & 1 == 1;
        state = (state >> 1) | if high { STATES / 2 } else { 0 };
    }
    let to_u64 = |slice: &[bool]| slice.iter().fold(0u64, |acc, &bit| (acc << 1) | u64::from(bit));
    let payload = to_u64(&bits[..PAYLOAD_BITS]);
    let crc = to_u64(&bits[PAYLOAD_BITS..INFO_BITS]);
    Decoded { payload, crc_ok: crc == u64::from(crc16(payload)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_ccitt_false_check_value() {
        assert_eq!(crc16_bytes(b"123456789"), 0x29B1);
        assert_ne!(crc16(1), crc16(2));
    }

    #[test]
    fn clean_codeword_decodes() {
        let payload = 0xDEAD_BEEF_0123_4567;
        let soft: Vec<f32> = encode(payload).iter().map(|&b| if b { 1.0 } else { -1.0 }).collect();
        assert_eq!(soft.len(), CODED_BITS);
        let decoded = decode(&soft);
        assert_eq!(decoded.payload, payload);
        assert!(decoded.crc_ok);
    }

    #[test]
    fn scattered_bit_errors_are_corrected() {
        let payload = 0x0F0F_1234_ABCD_9876;
        let mut soft: Vec<f32> = encode(payload).iter().map(|&b| if b { 1.0 } else { -1.0 }).collect();
        // Flip every 15th channel bit: ~7% raw error rate, well inside the code's reach.
        for value in soft.iter_mut().step_by(15) {
            *value = -*value;
        }
        let decoded = decode(&soft);
        assert_eq!(decoded.payload, payload);
        assert!(decoded.crc_ok);
    }
}
