/*
 * A Dxgkrnl stand-in in C: proves the host build of the driver is usable from
 * any language through its C ABI. It defines DxgkInitialize (exported with
 * -rdynamic, so libgpup_miniport.so binds to it at load), dlopen()s the
 * driver, calls DriverEntry, and drives AddDevice -> StartDevice ->
 * QueryAdapterInfo(DRIVERCAPS) -> the VRAM backing's read and write exports ->
 * StopDevice -> RemoveDevice -> Unload through the registered table. Layouts are the WDK's (x64), checked with
 * static_assert against the offsets in dxgk-sys/abi/wddm32-x64-layouts.tsv.
 */
#include <assert.h>
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef int32_t NTSTATUS;
typedef void *PVOID;

typedef struct { uint16_t Length, MaximumLength; uint16_t *Buffer; } UNICODE_STRING;

typedef struct {
    PVOID MiniportDeviceContext;
    PVOID PhysicalDeviceObject;
    UNICODE_STRING DeviceRegistryPath;
    PVOID TranslatedResourceList;
    int64_t SystemMemorySize, HighestPhysicalAddress, AgpApertureBase;
    size_t AgpApertureSize;
    int32_t DockingState;
} DXGK_DEVICE_INFO;
static_assert(sizeof(DXGK_DEVICE_INFO) == 80, "DXGK_DEVICE_INFO");

typedef NTSTATUS (*PFN_GET_DEVICE_INFORMATION)(PVOID, DXGK_DEVICE_INFO *);
typedef struct {
    uint32_t Size, Version;
    PVOID DeviceHandle;
    PVOID DxgkCbEvalAcpiMethod;
    PFN_GET_DEVICE_INFORMATION DxgkCbGetDeviceInformation;
    PVOID rest[68];
} DXGKRNL_INTERFACE;
static_assert(offsetof(DXGKRNL_INTERFACE, DxgkCbGetDeviceInformation) == 24, "callback slot");
static_assert(sizeof(DXGKRNL_INTERFACE) == 576, "DXGKRNL_INTERFACE");

typedef struct { uint32_t RequiredDmaQueueEntry; uint8_t AdapterGuid[16]; uint32_t LuidLow; int32_t LuidHigh; } DXGK_START_INFO;
static_assert(sizeof(DXGK_START_INFO) == 28, "DXGK_START_INFO");

typedef struct {
    int32_t Type;
    PVOID pInputData;
    uint32_t InputDataSize;
    PVOID pOutputData;
    uint32_t OutputDataSize;
    uint32_t Flags;
    PVOID hKmdProcessHandle;
} DXGKARG_QUERYADAPTERINFO;
static_assert(sizeof(DXGKARG_QUERYADAPTERINFO) == 48, "DXGKARG_QUERYADAPTERINFO");

typedef struct { uint32_t Version; uint32_t pad; PVOID slot[192]; } DRIVER_INITIALIZATION_DATA;
static_assert(sizeof(DRIVER_INITIALIZATION_DATA) == 1544, "DRIVER_INITIALIZATION_DATA");
enum { ADD_DEVICE = 1, START_DEVICE = 2, STOP_DEVICE = 3, REMOVE_DEVICE = 4, UNLOAD = 14, QUERY_ADAPTER_INFO = 17 };

typedef NTSTATUS (*PFN_ADD)(PVOID, PVOID *);
typedef NTSTATUS (*PFN_START)(PVOID, DXGK_START_INFO *, DXGKRNL_INTERFACE *, uint32_t *, uint32_t *);
typedef NTSTATUS (*PFN_CONTEXT)(PVOID);
typedef NTSTATUS (*PFN_QAI)(PVOID, const DXGKARG_QUERYADAPTERINFO *);
typedef void (*PFN_UNLOAD)(void);
typedef NTSTATUS (*PFN_DRIVER_ENTRY)(PVOID, UNICODE_STRING *);

static DRIVER_INITIALIZATION_DATA g_table;
static int g_initialized;
static uint64_t g_pdo[4], g_driver_object[4];
static PVOID g_context;

NTSTATUS DxgkInitialize(PVOID driver_object, UNICODE_STRING *registry_path, DRIVER_INITIALIZATION_DATA *data) {
    if (driver_object != g_driver_object || !registry_path || !data) return (NTSTATUS)0xC000000D;
    memcpy(&g_table, data, sizeof g_table);
    g_initialized = 1;
    return 0;
}

static NTSTATUS get_device_information(PVOID device_handle, DXGK_DEVICE_INFO *info) {
    if (device_handle != &g_context || !info) return (NTSTATUS)0xC000000D;
    memset(info, 0, sizeof *info);
    info->MiniportDeviceContext = g_context;
    info->PhysicalDeviceObject = g_pdo;
    return 0;
}

#define CHECK(what, status) do { NTSTATUS s_ = (status); printf("%-40s 0x%08x\n", what, (unsigned)s_); if (s_ < 0) return 1; } while (0)

/* The driver's VRAM backing through the host export: bytes written across a
 * 1 MiB chunk boundary read back, untouched VRAM reads as zero, and a stopped
 * adapter's VRAM is refused. The first configured segment is found by trying
 * ids (the built-in configuration's id is the driver's business). */
typedef NTSTATUS (*PFN_VRAM_IO)(PVOID, uint32_t, uint64_t, void *, uint64_t);
static uint32_t g_vram_segment;
static int vram_io(void *lib, PVOID adapter) {
    PFN_VRAM_IO write = (PFN_VRAM_IO)dlsym(lib, "gpup_host_vram_write");
    PFN_VRAM_IO read = (PFN_VRAM_IO)dlsym(lib, "gpup_host_vram_read");
    if (!write || !read) { fprintf(stderr, "no VRAM exports\n"); return 1; }
    uint8_t probe;
    for (uint32_t id = 1; id <= 8 && !g_vram_segment; id++)
        if (read(adapter, id, 0, &probe, 1) >= 0) g_vram_segment = id;
    if (!g_vram_segment) { fprintf(stderr, "no VRAM segment\n"); return 1; }
    char msg[] = "VRAM via C", back[sizeof msg] = { 0 };
    uint8_t zero[16];
    memset(zero, 0xAA, sizeof zero);
    CHECK("gpup_host_vram_write", write(adapter, g_vram_segment, (1u << 20) - 3, msg, sizeof msg));
    CHECK("gpup_host_vram_read", read(adapter, g_vram_segment, (1u << 20) - 3, back, sizeof back));
    CHECK("gpup_host_vram_read (untouched)", read(adapter, g_vram_segment, 5u << 20, zero, sizeof zero));
    for (size_t i = 0; i < sizeof zero; i++) if (zero[i]) { fprintf(stderr, "untouched VRAM not zero\n"); return 1; }
    if (memcmp(back, msg, sizeof msg)) { fprintf(stderr, "VRAM read back \"%s\"\n", back); return 1; }
    printf("VRAM bytes read back: \"%s\"\n", back);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s libgpup_miniport.so\n", argv[0]); return 2; }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 1; }
    PFN_DRIVER_ENTRY entry = (PFN_DRIVER_ENTRY)dlsym(lib, "DriverEntry");
    if (!entry) { fprintf(stderr, "no DriverEntry export\n"); return 1; }

    uint16_t path[] = u"\\REGISTRY\\MACHINE\\SYSTEM\\CurrentControlSet\\Services\\gpup_miniport";
    UNICODE_STRING registry = { sizeof path - 2, sizeof path, path };
    CHECK("DriverEntry", entry(g_driver_object, &registry));
    if (!g_initialized || g_table.Version != 0x11007) { fprintf(stderr, "no WDDM 3.2 table\n"); return 1; }

    CHECK("DxgkDdiAddDevice", ((PFN_ADD)g_table.slot[ADD_DEVICE - 1])(g_pdo, &g_context));
    DXGKRNL_INTERFACE kernel = { .Size = sizeof kernel, .Version = 0x11007, .DeviceHandle = &g_context,
                                 .DxgkCbGetDeviceInformation = get_device_information };
    DXGK_START_INFO start = { 0 };
    uint32_t sources = 99, children = 99;
    CHECK("DxgkDdiStartDevice", ((PFN_START)g_table.slot[START_DEVICE - 1])(g_context, &start, &kernel, &sources, &children));
    if (sources != 0 || children != 0) { fprintf(stderr, "sources %u children %u\n", sources, children); return 1; }

    uint8_t caps[592] = { 0 };
    DXGKARG_QUERYADAPTERINFO qai = { .Type = 1 /* DXGKQAITYPE_DRIVERCAPS */, .pOutputData = caps, .OutputDataSize = sizeof caps };
    CHECK("DxgkDdiQueryAdapterInfo(DRIVERCAPS)", ((PFN_QAI)g_table.slot[QUERY_ADAPTER_INFO - 1])(g_context, &qai));
    uint32_t wddm;
    memcpy(&wddm, caps + 336, sizeof wddm);
    printf("%-40s 0x%04x\n", "DRIVERCAPS.WDDMVersion", wddm);
    if (wddm != 0x3200) return 1;
    if (vram_io(lib, g_context)) return 1;

    CHECK("DxgkDdiStopDevice", ((PFN_CONTEXT)g_table.slot[STOP_DEVICE - 1])(g_context));
    uint8_t byte;
    NTSTATUS stopped = ((PFN_VRAM_IO)dlsym(lib, "gpup_host_vram_read"))(g_context, g_vram_segment, 0, &byte, 1);
    printf("%-40s 0x%08x\n", "gpup_host_vram_read (stopped)", (unsigned)stopped);
    if (stopped != (NTSTATUS)0xC000000D) return 1;
    CHECK("DxgkDdiRemoveDevice", ((PFN_CONTEXT)g_table.slot[REMOVE_DEVICE - 1])(g_context));
    NTSTATUS again = ((PFN_CONTEXT)g_table.slot[REMOVE_DEVICE - 1])(g_context);
    printf("%-40s 0x%08x\n", "DxgkDdiRemoveDevice (again)", (unsigned)again);
    if (again != (NTSTATUS)0xC000000D) return 1;
    ((PFN_UNLOAD)g_table.slot[UNLOAD - 1])();
    puts("C harness: driver loaded and driven through its C ABI");
    return 0;
}
