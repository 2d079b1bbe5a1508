//! The x86-64 instruction the redirection writes over the start of a
//! function: an absolute, register-free jump.

/// Length of [`absolute_jump`]'s encoding.
pub const JUMP_LEN: usize = 14;

/// `jmp qword ptr [rip + 0]` followed by the 8-byte target it reads: jumps to
/// `target` without touching any register, so the arguments and the return
/// address the caller set up reach the target unchanged.
#[must_use]
pub const fn absolute_jump(target: u64) -> [u8; JUMP_LEN] {
    let t = target.to_le_bytes();
    [
        0xFF, 0x25, 0x00, 0x00, 0x00, 0x00, t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_jmp_rip_relative_indirect_with_the_target_after_it() {
        let bytes = absolute_jump(0x1122_3344_5566_7788);
        // FF /4 with ModRM 00 100 101: jmp [rip + disp32], disp32 = 0.
        assert_eq!(bytes[..6], [0xFF, 0x25, 0, 0, 0, 0]);
        assert_eq!(bytes[6..], 0x1122_3344_5566_7788_u64.to_le_bytes());
    }
}
