//! The miniport's own platform-free kernel helpers and CRT-less runtime glue
//! (`src/kernel/` of the driver), compiled into this image file by file, so
//! both images are built from one recipe.

#[path = "../../../../src/kernel/line_buffer.rs"]
pub(crate) mod line_buffer;
#[path = "../../../../src/kernel/nt_string.rs"]
pub(crate) mod nt_string;
#[path = "../../../../src/kernel/raw/runtime.rs"]
mod runtime;
