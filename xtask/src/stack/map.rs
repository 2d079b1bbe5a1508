//! The function names of an image from the linker map `rust-lld` writes
//! beside it (`/MAP`, link.exe's format): the image keeps no symbol table,
//! and a map from the same link gives the exact address of every function,
//! static ones included, without parsing a PDB.

/// One symbol of the map: its RVA and its (demangled) name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    /// Relative virtual address.
    pub rva: u32,
    /// The name, demangled when it is a Rust symbol.
    pub name: String,
}

/// The map's symbols (publics and statics), sorted by RVA, and the entry
/// point's RVA as the map records it.
#[derive(Debug, Clone, Default)]
pub struct LinkerMap {
    /// Every symbol, ascending RVA.
    pub symbols: Vec<Symbol>,
    /// The preferred load address (the `Rva+Base` column minus it is the RVA).
    pub base: u64,
}

/// Parses a link.exe-format map (as `lld-link /MAP` writes it).
///
/// # Errors
/// If the map has no load address or no symbols.
pub fn parse(text: &str) -> Result<LinkerMap, String> {
    let base = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Preferred load address is "))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .ok_or("the linker map has no preferred load address")?;
    let mut symbols = Vec::new();
    for line in text.lines() {
        // " 0001:00000000       DriverEntry     0000000180001000     obj"
        let mut words = line.split_whitespace();
        let (Some(section), Some(name), Some(va)) = (words.next(), words.next(), words.next())
        else {
            continue;
        };
        let is_address = section.len() == 13 && section.as_bytes().get(4) == Some(&b':');
        let Ok(va) = u64::from_str_radix(va, 16) else {
            continue;
        };
        if !is_address || va < base {
            continue;
        }
        let Ok(rva) = u32::try_from(va - base) else {
            continue;
        };
        symbols.push(Symbol {
            rva,
            name: demangle(name),
        });
    }
    if symbols.is_empty() {
        return Err("the linker map lists no symbols".into());
    }
    symbols.sort_by(|a, b| a.rva.cmp(&b.rva).then_with(|| a.name.cmp(&b.name)));
    symbols.dedup_by_key(|s| s.rva);
    Ok(LinkerMap { symbols, base })
}

/// A Rust symbol demangled without its hash; any other name as it is.
pub fn demangle(name: &str) -> String {
    match rustc_demangle::try_demangle(name) {
        Ok(d) => format!("{d:#}"),
        Err(_) => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &str = " gpup_miniport

 Preferred load address is 0000000180000000

  Address         Publics by Value              Rva+Base               Lib:Object

 0001:00000000       DriverEntry                0000000180001000     a.o
 0001:00000010       _ZN13gpup_miniport3ddi4gpup18PartitionReference17hd2ddce7978c9dfabE 0000000180001010     a.o

 entry point at         0001:00000000

 Static symbols

 0001:00000020       _RNvNtCs8icZUrvfcq9_4core3fmt5write 0000000180001020     a.o
";

    #[test]
    fn publics_and_statics_are_read_demangled() {
        let map = parse(MAP).expect("parses");
        assert_eq!(map.base, 0x1_8000_0000);
        let names: Vec<(u32, &str)> = map
            .symbols
            .iter()
            .map(|s| (s.rva, s.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                (0x1000, "DriverEntry"),
                (0x1010, "gpup_miniport::ddi::gpup::PartitionReference"),
                (0x1020, "core::fmt::write"),
            ]
        );
    }

    #[test]
    fn a_map_without_symbols_is_refused() {
        assert!(parse("Preferred load address is 0000000180000000\n").is_err());
        assert!(parse("").is_err());
    }
}
