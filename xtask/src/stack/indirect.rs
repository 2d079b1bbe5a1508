//! What an indirect call reaches, from the instructions of its function.
//!
//! The target is read through a memory operand (`call [reg+disp]`: a vtable
//! slot when `disp` >= 24 is a multiple of 8; `call [rip+x]`: the import
//! table or a global) or through a register. For a register, the writes
//! that can reach the call are:
//! - a non-volatile register (rbx, rbp, rsi, rdi, r12-r15): every write to
//!   it in the function (not the epilogue's `pop`, which restores the
//!   caller's value on the way out), whatever the control flow;
//! - a volatile one: the last write before the call in address order, with
//!   no call in between (a call clobbers it): the straight-line reaching
//!   definition LLVM emits for a load followed by its call;
//! - a write that copies another register (`mov r64, r64`) stands for the
//!   writes of that register which reach it, followed the same way.
//!
//! Each write gives the targets: a load from an import slot is that import,
//! a load from a vtable slot its functions, a `lea` of a function that
//! function; anything else is unresolved (the report prints its origin).

use std::collections::{BTreeMap, BTreeSet};

use iced_x86::{Code, FlowControl, Instruction, Mnemonic, OpKind, Register};

/// What an indirect call can reach.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Reach {
    /// Exactly these functions (vtable slot or a loaded address).
    Functions(BTreeSet<usize>),
    /// Not determined from the image.
    #[default]
    Unresolved,
}

/// What the resolution needs to know of the image (the call graph's
/// lookups, passed in so that this module does not depend on the graph's).
pub struct Image<'a> {
    /// The function starting at an RVA.
    pub starting_at: &'a dyn Fn(u32) -> Option<usize>,
    /// The map's name of an RVA.
    pub symbol_at: &'a dyn Fn(u32) -> String,
    /// Functions in vtables, by slot offset.
    pub vtable_slots: &'a BTreeMap<u32, BTreeSet<usize>>,
    /// Import slots (RVA to `dll!name`).
    pub imports: &'a BTreeMap<u32, String>,
    /// Reads 32-bit values (jump tables).
    pub tables: &'a JumpTables<'a>,
}

/// The memory operand of `instr` as `[base+index*scale+disp]`.
pub fn memory_text(instr: &Instruction) -> String {
    let base = format!("{:?}", instr.memory_base()).to_lowercase();
    let index = match instr.memory_index() {
        Register::None => String::new(),
        r => format!("+{:?}*{}", r, instr.memory_index_scale()).to_lowercase(),
    };
    format!("[{base}{index}+{:#x}]", instr.memory_displacement64())
}

/// What an indirect call turned out to be.
pub enum Site {
    /// A call of an import (through a register loaded from its slot).
    Import(String),
    /// An indirect call.
    Indirect {
        /// The vtable slot its target is read from, if one.
        slot: Option<u32>,
        /// Where the target comes from.
        origin: String,
        /// What it reaches.
        reach: Reach,
    },
}

/// What one write of the called register (or the memory operand) gives.
enum Source {
    Import(String),
    Functions(BTreeSet<usize>, Option<u32>),
    Unknown(String),
}

/// Resolves the indirect call `instrs[i]`.
pub fn resolve(image: &Image<'_>, instrs: &[Instruction], i: usize) -> Site {
    let Some(instr) = instrs.get(i) else {
        return unresolved(None, "no instruction".into());
    };
    let sources = if instr.op0_kind() == OpKind::Register {
        match writes(instrs, i, image.tables) {
            Ok(writes) => writes.iter().map(|w| source(image, w, 1)).collect(),
            Err(why) => vec![Source::Unknown(why)],
        }
    } else {
        vec![source(image, instr, 0)]
    };
    combine(sources)
}

fn unresolved(slot: Option<u32>, origin: String) -> Site {
    Site::Indirect {
        slot,
        origin,
        reach: Reach::Unresolved,
    }
}

fn combine(sources: Vec<Source>) -> Site {
    let mut unknown = Vec::new();
    let mut imports = BTreeSet::new();
    let mut functions = BTreeSet::new();
    let mut slots = BTreeSet::new();
    for s in sources {
        match s {
            Source::Import(name) => {
                imports.insert(name);
            }
            Source::Functions(f, slot) => {
                functions.extend(f);
                slots.extend(slot);
            }
            Source::Unknown(why) => unknown.push(why),
        }
    }
    let slot = (slots.len() == 1).then(|| slots.first().copied()).flatten();
    if !unknown.is_empty() || (!imports.is_empty() && !functions.is_empty()) {
        unknown.sort();
        unknown.dedup();
        unknown.extend(imports.iter().map(|i| format!("import {i}")));
        return unresolved(slot, unknown.join(" | "));
    }
    match (imports.len(), imports.into_iter().next()) {
        (1, Some(name)) => Site::Import(name),
        (0, _) => {
            let origin = match slot {
                Some(s) => format!("vtable slot {s:#x}"),
                None => "address of a function".into(),
            };
            Site::Indirect {
                slot,
                origin,
                reach: Reach::Functions(functions),
            }
        }
        _ => unresolved(None, "several imports".into()),
    }
}

fn is_non_volatile(reg: Register) -> bool {
    matches!(
        reg,
        Register::RBX
            | Register::RBP
            | Register::RSI
            | Register::RDI
            | Register::R12
            | Register::R13
            | Register::R14
            | Register::R15
    )
}

/// Whether `instr` writes its first operand, the register `reg`.
fn writes_reg(instr: &Instruction, reg: Register) -> bool {
    instr.op_count() > 0
        && instr.op0_kind() == OpKind::Register
        && instr.op0_register().full_register() == reg
        && !matches!(
            instr.mnemonic(),
            Mnemonic::Test
                | Mnemonic::Cmp
                | Mnemonic::Call
                | Mnemonic::Push
                | Mnemonic::Jmp
                | Mnemonic::Bt
        )
}

/// The predecessors of each instruction of a function: the one before it
/// if that one falls through, every jump to it, and, in a function with a
/// jump table (`jmp reg`), that jump for every instruction that starts a
/// block (its targets are in the table, which is not decoded).
fn predecessors(instrs: &[Instruction], tables: &JumpTables<'_>) -> Vec<Vec<usize>> {
    let index: BTreeMap<u64, usize> = instrs
        .iter()
        .enumerate()
        .map(|(i, x)| (x.ip(), i))
        .collect();
    let mut preds = vec![Vec::new(); instrs.len()];
    let mut unknown_tables = Vec::new();
    let mut block_starts = BTreeSet::from([0usize]);
    for (i, x) in instrs.iter().enumerate() {
        let flow = x.flow_control();
        let falls_through = !matches!(
            flow,
            FlowControl::UnconditionalBranch
                | FlowControl::IndirectBranch
                | FlowControl::Return
                | FlowControl::Interrupt
        );
        if falls_through {
            if let Some(p) = preds.get_mut(i + 1) {
                p.push(i);
            }
        } else {
            block_starts.insert(i + 1);
        }
        if matches!(
            flow,
            FlowControl::UnconditionalBranch | FlowControl::ConditionalBranch
        ) && let Some(&t) = index.get(&x.near_branch_target())
        {
            preds[t].push(i);
            block_starts.insert(t);
        }
        if flow == FlowControl::IndirectBranch && x.op0_kind() == OpKind::Register {
            match table_targets(instrs, i, tables) {
                Some(targets) => {
                    for t in targets.iter().filter_map(|t| index.get(t)) {
                        preds[*t].push(i);
                    }
                }
                None => unknown_tables.push(i),
            }
        }
    }
    for &t in &unknown_tables {
        for &b in &block_starts {
            if let Some(p) = preds.get_mut(b) {
                p.push(t);
            }
        }
    }
    preds
}

/// Reads the image's 32-bit little-endian values by RVA (jump tables).
pub type JumpTables<'a> = dyn Fn(u32) -> Option<i32> + 'a;

/// The targets of the jump table the `jmp reg` at `instrs[j]` goes through:
/// LLVM's `lea base, [rip+table]; movsxd r, [base+i*4]; add r, base; jmp r`,
/// entries relative to the table, read while they land in the function.
fn table_targets(instrs: &[Instruction], j: usize, read: &JumpTables<'_>) -> Option<Vec<u64>> {
    let lea = instrs
        .get(j.saturating_sub(8)..j)?
        .iter()
        .rev()
        .find(|x| x.code() == Code::Lea_r64_m && x.is_ip_rel_memory_operand())?;
    let table = u32::try_from(lea.ip_rel_memory_address()).ok()?;
    let (start, end) = (instrs.first()?.ip(), instrs.last()?.next_ip());
    let mut out = Vec::new();
    for k in 0..4096u32 {
        let Some(entry) = read(table.checked_add(k * 4)?) else {
            break;
        };
        let target = u64::from(table).checked_add_signed(i64::from(entry))?;
        if target < start || target >= end {
            break;
        }
        out.push(target);
    }
    (!out.is_empty()).then_some(out)
}

/// The writes that can reach the register call `instrs[i]`: a backward
/// search over the function's control flow that stops, on each path, at the
/// first write of the register; a write that copies another register
/// (`mov r64, r64`, as LLVM emits when it rotates hoisted routine pointers
/// between callee-saved registers across loop copies) is followed in turn,
/// from where it is, for the register it copies. Or why the value is not
/// known (a volatile register across a call holds what the call returned; at
/// the function's entry it is an argument or the caller's value).
fn writes<'a>(
    instrs: &'a [Instruction],
    i: usize,
    tables: &JumpTables<'_>,
) -> Result<Vec<&'a Instruction>, String> {
    let reg = instrs
        .get(i)
        .map_or(Register::None, |c| c.op0_register().full_register());
    let preds = predecessors(instrs, tables);
    let mut found = BTreeSet::new();
    let mut followed = BTreeSet::new();
    let mut copies = vec![(i, reg)];
    while let Some((at, reg)) = copies.pop() {
        if !followed.insert((at, reg)) {
            continue;
        }
        for j in writes_before(instrs, &preds, at, reg)? {
            match instrs.get(j).and_then(copied_register) {
                Some(from) => copies.push((j, from)),
                None => {
                    found.insert(j);
                }
            }
        }
    }
    Ok(found.into_iter().filter_map(|j| instrs.get(j)).collect())
}

/// The register a `mov r64, r64` copies into its first operand, if `instr`
/// is one.
fn copied_register(instr: &Instruction) -> Option<Register> {
    let copy = matches!(instr.code(), Code::Mov_r64_rm64 | Code::Mov_rm64_r64)
        && instr.op_count() == 2
        && instr.op0_kind() == OpKind::Register
        && instr.op1_kind() == OpKind::Register;
    copy.then(|| instr.op1_register().full_register())
}

/// The indices of the writes of `reg` that reach `instrs[at]` (the search of
/// [`writes`] for one register from one place).
fn writes_before(
    instrs: &[Instruction],
    preds: &[Vec<usize>],
    at: usize,
    reg: Register,
) -> Result<Vec<usize>, String> {
    let name = format!("{reg:?}").to_lowercase();
    let mut found = Vec::new();
    let mut seen = BTreeSet::new();
    let mut work: Vec<usize> = preds.get(at).cloned().unwrap_or_default();
    if work.is_empty() {
        return Err(format!("{name} is set by the function's caller"));
    }
    while let Some(j) = work.pop() {
        if !seen.insert(j) {
            continue;
        }
        let Some(x) = instrs.get(j) else {
            continue;
        };
        if writes_reg(x, reg) {
            found.push(j);
            continue;
        }
        let is_call = matches!(
            x.flow_control(),
            FlowControl::Call | FlowControl::IndirectCall
        );
        if is_call && !is_non_volatile(reg) {
            return Err(format!("{name} is what a call returned"));
        }
        match preds.get(j) {
            Some(p) if !p.is_empty() => work.extend(p),
            // Unreachable padding (after a jump) is no path.
            _ if j != 0 => {}
            _ => return Err(format!("{name} is set by the function's caller")),
        }
    }
    Ok(found)
}

/// The vtable slot a memory operand reads (`[reg+disp]`, `disp` >= 24).
fn slot_of(instr: &Instruction) -> Option<u32> {
    if instr.memory_index() != Register::None
        || matches!(
            instr.memory_base(),
            Register::RIP | Register::None | Register::RSP
        )
    {
        return None;
    }
    let disp = u32::try_from(instr.memory_displacement64()).ok()?;
    (disp >= 24 && disp % 8 == 0).then_some(disp)
}

/// What `instr` (a write of the register, or the call itself; its memory
/// operand is operand `operand`) gives as the target.
fn source(image: &Image<'_>, instr: &Instruction, operand: u32) -> Source {
    let memory = instr.op_count() > operand && instr.op_kind(operand) == OpKind::Memory;
    if instr.code() == Code::Lea_r64_m && instr.is_ip_rel_memory_operand() {
        let target = u32::try_from(instr.ip_rel_memory_address()).unwrap_or(u32::MAX);
        return match (image.starting_at)(target) {
            Some(f) => Source::Functions(BTreeSet::from([f]), None),
            None => Source::Unknown(format!("address of {}", (image.symbol_at)(target))),
        };
    }
    if !memory
        || !matches!(
            instr.mnemonic(),
            Mnemonic::Mov | Mnemonic::Call | Mnemonic::Jmp
        )
    {
        return Source::Unknown(format!("{:?}", instr.code()));
    }
    if instr.is_ip_rel_memory_operand() {
        let at = u32::try_from(instr.ip_rel_memory_address()).unwrap_or(u32::MAX);
        return match image.imports.get(&at) {
            Some(name) => Source::Import(name.clone()),
            None => Source::Unknown(format!("pointer in {}", (image.symbol_at)(at))),
        };
    }
    match slot_of(instr).and_then(|slot| Some((slot, image.vtable_slots.get(&slot)?))) {
        Some((slot, f)) if !f.is_empty() => Source::Functions(f.clone(), Some(slot)),
        _ => Source::Unknown(format!("pointer at {}", memory_text(instr))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_x86::{Decoder, DecoderOptions};

    /// Resolves the call at instruction `call` of `bytes` (decoded at RVA
    /// 0x1000) with one import, `ntoskrnl.exe!ExAllocatePoolWithTag`, whose
    /// slot is at RVA 0x2007.
    fn resolve_in(bytes: &[u8], call: usize) -> Site {
        let instrs: Vec<Instruction> = Decoder::with_ip(64, bytes, 0x1000, DecoderOptions::NONE)
            .into_iter()
            .collect();
        let imports = BTreeMap::from([(0x2007, "ntoskrnl.exe!ExAllocatePoolWithTag".to_string())]);
        let slots = BTreeMap::new();
        let image = Image {
            starting_at: &|_| None,
            symbol_at: &|rva| format!("{rva:#x}"),
            vtable_slots: &slots,
            imports: &imports,
            tables: &|_| None,
        };
        resolve(&image, &instrs, call)
    }

    #[test]
    fn a_routine_copied_between_registers_is_still_its_import() {
        let bytes = [
            0x48, 0x8B, 0x05, 0x00, 0x10, 0x00, 0x00, // mov rax, [rip+0x1000] (the slot)
            0x48, 0x89, 0xC6, // mov rsi, rax
            0x49, 0x89, 0xF4, // mov r12, rsi
            0x41, 0xFF, 0xD4, // call r12
            0xC3, // ret
        ];
        match resolve_in(&bytes, 3) {
            Site::Import(name) => assert_eq!(name, "ntoskrnl.exe!ExAllocatePoolWithTag"),
            Site::Indirect { origin, .. } => panic!("unresolved: {origin}"),
        }
    }

    #[test]
    fn a_copy_of_an_argument_stays_unresolved() {
        let bytes = [
            0x49, 0x89, 0xCC, // mov r12, rcx (the caller's value)
            0x41, 0xFF, 0xD4, // call r12
            0xC3, // ret
        ];
        match resolve_in(&bytes, 1) {
            Site::Import(name) => panic!("resolved to {name}"),
            Site::Indirect { origin, reach, .. } => {
                assert_eq!(reach, Reach::Unresolved);
                assert!(
                    origin.contains("rcx is set by the function's caller"),
                    "{origin}"
                );
            }
        }
    }
}
