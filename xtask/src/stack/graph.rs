//! The call graph of an image, from disassembly (`iced-x86`): each function
//! of the linker map, its frame (from [`super::unwind`]), its direct calls
//! and tail jumps, its calls through the import table, and its indirect
//! calls with what they can reach.
//!
//! Indirect branches:
//! - `jmp reg` without REX.W is a jump table inside the function (LLVM's
//!   switch lowering); the Windows x64 unwinder requires an indirect jump
//!   that leaves a function (a tail call) to carry REX.W, so those, and
//!   every `jmp [mem]`, are indirect tail calls.
//! - `call/jmp [reg+disp]` with `disp` >= 24, a multiple of 8, is a Rust
//!   `dyn` call through slot `disp` of a vtable (drop, size, align, then the
//!   methods); its targets are the functions at that slot of every vtable
//!   in the image's data. `call reg` whose register was last loaded that way
//!   in the function is read the same; one last loaded by `lea reg, [rip+f]`
//!   calls `f`.
//! - anything else is unresolved: the check fails unless the calling
//!   function is allow-listed with a reason ([`super::ALLOWED`]).

use std::collections::{BTreeMap, BTreeSet};

use iced_x86::{Decoder, DecoderOptions, FlowControl, Instruction, Mnemonic, OpKind};
use object::LittleEndian as LE;
use object::pe;
use object::read::pe::PeFile64;

pub use super::indirect::Reach;
use super::indirect::{JumpTables, memory_text};
use super::map::LinkerMap;
use super::unwind::{self, Frame};

/// One indirect call (or indirect tail jump).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Indirect {
    /// Address of the instruction (RVA).
    pub at: u32,
    /// How the target is given, as disassembled.
    pub operand: String,
    /// A vtable slot, when the target is read from one.
    pub slot: Option<u32>,
    /// A jump (a tail call: the caller's frame is gone), not a call.
    pub tail: bool,
    /// Where the target comes from: the last instruction in the function
    /// that wrote its register (or the memory operand), with the map's name
    /// of a rip-relative address (`pointer in SYMBOL`).
    pub origin: String,
    /// What it can reach.
    pub reach: Reach,
}

/// One function of the image.
#[derive(Debug, Clone, Default)]
pub struct Function {
    /// Start (RVA).
    pub rva: u32,
    /// One past its last byte: the next symbol or the section's end.
    pub end: u32,
    /// Demangled name.
    pub name: String,
    /// Bytes on the stack while it runs: its prologue's pushes and
    /// allocations plus the return address its caller pushed.
    pub frame: u32,
    /// Functions it calls directly (`call rel32`).
    pub calls: BTreeSet<usize>,
    /// Functions it jumps to (tail calls: its own frame is gone by then).
    pub tails: BTreeSet<usize>,
    /// Imported functions it calls (`call [__imp_X]`): outside the image.
    pub imports: BTreeSet<String>,
    /// Its indirect calls.
    pub indirect: Vec<Indirect>,
}

/// The image's functions and what they call.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Every function, ascending RVA.
    pub functions: Vec<Function>,
    /// Functions whose address the image takes (in code or in its data):
    /// the only ones anything outside a direct call can enter.
    pub address_taken: BTreeSet<usize>,
    /// Functions in vtables, by slot offset.
    pub vtable_slots: BTreeMap<u32, BTreeSet<usize>>,
    /// Every symbol of the map (data too), ascending RVA.
    pub symbols: Vec<super::map::Symbol>,
}

impl Graph {
    /// The function starting at `rva`.
    pub fn starting_at(&self, rva: u32) -> Option<usize> {
        self.functions.binary_search_by_key(&rva, |f| f.rva).ok()
    }

    /// The function containing `rva`.
    pub fn containing(&self, rva: u32) -> Option<usize> {
        let i = self
            .functions
            .partition_point(|f| f.rva <= rva)
            .checked_sub(1)?;
        (rva < self.functions.get(i)?.end).then_some(i)
    }

    /// The map's name of `rva`: `symbol` or `symbol+offset`.
    pub fn symbol_at(&self, rva: u32) -> String {
        let i = self.symbols.partition_point(|s| s.rva <= rva);
        match i.checked_sub(1).and_then(|i| self.symbols.get(i)) {
            Some(s) if s.rva == rva => s.name.clone(),
            Some(s) => format!("{}+{:#x}", s.name, rva - s.rva),
            None => format!("{rva:#x}"),
        }
    }

    /// The functions named exactly `name`.
    pub fn named(&self, name: &str) -> Option<usize> {
        self.functions.iter().position(|f| f.name == name)
    }
}

/// An executable section's range and bytes.
struct Code_<'a> {
    rva: u32,
    bytes: &'a [u8],
}

/// Builds the call graph of `data` (a PE32+ image) with the names of `map`.
///
/// # Errors
/// If the image cannot be read.
pub fn build(data: &[u8], map: &LinkerMap) -> Result<Graph, String> {
    let file = PeFile64::parse(data).map_err(|e| e.to_string())?;
    let code = executable_sections(&file, data)?;
    let mut graph = Graph {
        functions: functions(&code, map),
        symbols: map.symbols.clone(),
        ..Graph::default()
    };
    if graph.functions.is_empty() {
        return Err("the linker map names no function in an executable section".into());
    }
    apply_frames(&mut graph, &unwind::frames(&file, data)?)?;
    let pointers = data_pointers(&file, data, map.base)?;
    for &target in pointers.values() {
        if let Some(f) = graph.starting_at(target) {
            graph.address_taken.insert(f);
        }
    }
    graph.vtable_slots = vtable_slots(&file, data, &graph, &pointers);
    let imports = import_slots(&file)?;
    let read = |rva: u32| {
        Some(i32::from_le_bytes(
            unwind::bytes_at(&file, data, rva, 4)?.try_into().ok()?,
        ))
    };
    for section in &code {
        disassemble(&mut graph, section, &imports, &read);
    }
    Ok(graph)
}

fn executable_sections<'a>(file: &PeFile64<'a>, data: &'a [u8]) -> Result<Vec<Code_<'a>>, String> {
    let mut out = Vec::new();
    for section in file.section_table().iter() {
        if section.characteristics.get(LE).0 & pe::IMAGE_SCN_MEM_EXECUTE.0 == 0 {
            continue;
        }
        let rva = section.virtual_address.get(LE);
        let size = section
            .virtual_size
            .get(LE)
            .min(section.size_of_raw_data.get(LE));
        let bytes = unwind::bytes_at(
            file,
            data,
            rva,
            usize::try_from(size).map_err(|e| e.to_string())?,
        )
        .ok_or("an executable section is out of the file")?;
        out.push(Code_ { rva, bytes });
    }
    Ok(out)
}

/// The map's symbols inside executable sections, each up to the next one.
fn functions(code: &[Code_<'_>], map: &LinkerMap) -> Vec<Function> {
    let mut out = Vec::new();
    for section in code {
        let end = section.rva + u32::try_from(section.bytes.len()).unwrap_or(u32::MAX);
        let inside: Vec<_> = map
            .symbols
            .iter()
            .filter(|s| s.rva >= section.rva && s.rva < end)
            .collect();
        for (i, s) in inside.iter().enumerate() {
            let next = inside.get(i + 1).map_or(end, |n| n.rva);
            out.push(Function {
                rva: s.rva,
                end: next,
                name: s.name.clone(),
                frame: 8,
                ..Function::default()
            });
        }
    }
    out.sort_by_key(|f| f.rva);
    out
}

/// Each function's frame: the largest of its `.pdata` entries (a function
/// split in parts has one per part), plus the return address.
fn apply_frames(graph: &mut Graph, frames: &[Frame]) -> Result<(), String> {
    for frame in frames {
        let f = graph.containing(frame.begin).ok_or_else(|| {
            format!(
                ".pdata entry at {:#x} is in no function of the map",
                frame.begin
            )
        })?;
        if let Some(function) = graph.functions.get_mut(f) {
            function.frame = function.frame.max(frame.bytes + 8);
        }
    }
    Ok(())
}

/// Every 64-bit pointer the base relocations fix up outside executable
/// sections: its RVA and the RVA it points to.
fn data_pointers(
    file: &PeFile64<'_>,
    data: &[u8],
    base: u64,
) -> Result<BTreeMap<u32, u32>, String> {
    let sections = file.section_table();
    let mut out = BTreeMap::new();
    let Some(mut blocks) = file
        .data_directories()
        .relocation_blocks(data, &sections)
        .map_err(|e| e.to_string())?
    else {
        return Ok(out);
    };
    while let Some(block) = blocks.next().map_err(|e| e.to_string())? {
        for r in block.filter(|r| r.typ == pe::IMAGE_REL_BASED_DIR64) {
            let Some(bytes) = unwind::bytes_at(file, data, r.virtual_address, 8) else {
                continue;
            };
            let value = u64::from_le_bytes(bytes.try_into().map_err(|_| "short pointer")?);
            if let Some(rva) = value.checked_sub(base).and_then(|v| u32::try_from(v).ok()) {
                out.insert(r.virtual_address, rva);
            }
        }
    }
    Ok(out)
}

fn u64_at(file: &PeFile64<'_>, data: &[u8], rva: u32) -> Option<u64> {
    Some(u64::from_le_bytes(
        unwind::bytes_at(file, data, rva, 8)?.try_into().ok()?,
    ))
}

/// The functions at each method slot of the image's vtables. A vtable is a
/// run of relocated function pointers after a head of drop-glue pointer (or
/// null), size and alignment (a power of two up to 4096, size a multiple).
fn vtable_slots(
    file: &PeFile64<'_>,
    data: &[u8],
    graph: &Graph,
    pointers: &BTreeMap<u32, u32>,
) -> BTreeMap<u32, BTreeSet<usize>> {
    let mut slots: BTreeMap<u32, BTreeSet<usize>> = BTreeMap::new();
    let is_fn = |at: u32| pointers.get(&at).and_then(|&t| graph.starting_at(t));
    for &at in pointers.keys() {
        // A relocated drop pointer starts a vtable; with no drop glue (null)
        // the first method, 24 bytes in, is the first relocated pointer.
        for start in [at, at.wrapping_sub(24)] {
            let size = u64_at(file, data, start + 8);
            let align = u64_at(file, data, start + 16);
            let (Some(size), Some(align)) = (size, align) else {
                continue;
            };
            let head_ok = is_fn(start).is_some() || u64_at(file, data, start) == Some(0);
            let shape_ok = align.is_power_of_two() && align <= 4096 && size % align == 0;
            if !head_ok
                || !shape_ok
                || pointers.contains_key(&(start + 8))
                || pointers.contains_key(&(start + 16))
            {
                continue;
            }
            let mut slot = 24;
            while let Some(f) = is_fn(start + slot) {
                slots.entry(slot).or_default().insert(f);
                slot += 8;
            }
        }
    }
    slots
}

/// The import address table's slots (RVA to `dll!name`).
fn import_slots(file: &PeFile64<'_>) -> Result<BTreeMap<u32, String>, String> {
    let mut out = BTreeMap::new();
    let Some(table) = file.import_table().map_err(|e| e.to_string())? else {
        return Ok(out);
    };
    let mut descriptors = table.descriptors().map_err(|e| e.to_string())?;
    while let Some(d) = descriptors.next().map_err(|e| e.to_string())? {
        let dll = String::from_utf8_lossy(table.name(d.name.get(LE)).map_err(|e| e.to_string())?)
            .into_owned();
        let mut iat = d.first_thunk.get(LE);
        let mut thunks = table
            .thunks(d.original_first_thunk.get(LE))
            .map_err(|e| e.to_string())?;
        while let Some(thunk) = thunks
            .next::<pe::ImageNtHeaders64>()
            .map_err(|e| e.to_string())?
        {
            let name = match table
                .import::<pe::ImageNtHeaders64>(thunk)
                .map_err(|e| e.to_string())?
            {
                object::read::pe::Import::Name(_, name) => {
                    String::from_utf8_lossy(name).into_owned()
                }
                object::read::pe::Import::Ordinal(n) => format!("#{n}"),
            };
            out.insert(iat, format!("{dll}!{name}"));
            iat += 8;
        }
    }
    Ok(out)
}

/// Decodes one executable section, then records each function's edges.
fn disassemble(
    graph: &mut Graph,
    section: &Code_<'_>,
    imports: &BTreeMap<u32, String>,
    tables: &JumpTables<'_>,
) {
    let mut decoder = Decoder::with_ip(
        64,
        section.bytes,
        u64::from(section.rva),
        DecoderOptions::NONE,
    );
    let mut by_function: BTreeMap<usize, Vec<Instruction>> = BTreeMap::new();
    let mut instr = Instruction::default();
    while decoder.can_decode() {
        decoder.decode_out(&mut instr);
        let at = u32::try_from(instr.ip()).unwrap_or(u32::MAX);
        if let Some(f) = graph.containing(at) {
            by_function.entry(f).or_default().push(instr);
        }
    }
    for (f, instrs) in by_function {
        for (i, instr) in instrs.iter().enumerate() {
            // Addresses taken in code: a `lea` of a function's start.
            if instr.mnemonic() == Mnemonic::Lea && instr.is_ip_rel_memory_operand() {
                let target = u32::try_from(instr.ip_rel_memory_address()).unwrap_or(u32::MAX);
                if let Some(t) = graph.starting_at(target) {
                    graph.address_taken.insert(t);
                }
            }
            let offset = usize::try_from(instr.ip() - u64::from(section.rva)).unwrap_or(usize::MAX);
            let raw = section.bytes.get(offset..).unwrap_or_default();
            edge(graph, f, &instrs, i, raw, imports, tables);
        }
    }
}

/// Records the edge `instrs[i]` (in function `f`) makes, if any.
fn edge(
    graph: &mut Graph,
    f: usize,
    instrs: &[Instruction],
    i: usize,
    raw: &[u8],
    imports: &BTreeMap<u32, String>,
    tables: &JumpTables<'_>,
) {
    let Some(instr) = instrs.get(i) else {
        return;
    };
    let flow = instr.flow_control();
    let is_jump = matches!(
        flow,
        FlowControl::UnconditionalBranch | FlowControl::ConditionalBranch
    );
    match flow {
        FlowControl::Call | FlowControl::UnconditionalBranch | FlowControl::ConditionalBranch => {
            let Ok(target) = u32::try_from(instr.near_branch_target()) else {
                return;
            };
            let Some(t) = graph.containing(target) else {
                return;
            };
            if t == f && is_jump {
                return;
            }
            let Some(function) = graph.functions.get_mut(f) else {
                return;
            };
            if is_jump {
                function.tails.insert(t);
            } else {
                function.calls.insert(t);
            }
        }
        FlowControl::IndirectCall | FlowControl::IndirectBranch => {
            let is_call = flow == FlowControl::IndirectCall;
            if instr.op0_kind() == OpKind::Register && !is_call && !has_rex_w(raw) {
                return; // a jump table inside the function
            }
            let image = super::indirect::Image {
                starting_at: &|rva| graph.starting_at(rva),
                symbol_at: &|rva| graph.symbol_at(rva),
                vtable_slots: &graph.vtable_slots,
                imports,
                tables,
            };
            let site = super::indirect::resolve(&image, instrs, i);
            let Some(function) = graph.functions.get_mut(f) else {
                return;
            };
            match site {
                super::indirect::Site::Import(name) => {
                    function.imports.insert(name);
                }
                super::indirect::Site::Indirect {
                    slot,
                    origin,
                    reach,
                } => function.indirect.push(Indirect {
                    at: u32::try_from(instr.ip()).unwrap_or(u32::MAX),
                    operand: operand_text(instr),
                    slot,
                    tail: !is_call,
                    origin,
                    reach,
                }),
            }
        }
        _ => {}
    }
}

/// REX.W on the instruction (after any legacy prefixes).
fn has_rex_w(raw: &[u8]) -> bool {
    raw.iter()
        .find(|b| {
            !matches!(
                b,
                0x26 | 0x2e | 0x36 | 0x3e | 0x64 | 0x65 | 0x66 | 0x67 | 0xf2 | 0xf3
            )
        })
        .is_some_and(|b| b & 0xf8 == 0x48)
}

/// The call's operand as text: a register, or `[base+index*scale+disp]`.
pub fn operand_text(instr: &Instruction) -> String {
    if instr.op0_kind() == OpKind::Register {
        return format!("{:?}", instr.op0_register()).to_lowercase();
    }
    memory_text(instr)
}
