//! Evaluating a compiled filter must not allocate: it runs once per flow.
//!
//! This test binary installs a counting global allocator; the counter is per
//! thread so the test harness's own threads do not disturb it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use serde_json::{Map, Value, json};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: defers every operation to the system allocator unchanged; the only
// addition is bumping a thread-local counter, which does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn evaluation_does_not_allocate() {
    let Value::Object(record): Value = json!({
        "SrcK8S_Namespace": "netobserv",
        "DstK8S_Namespace": "netobserv",
        "Proto": 6,
        "DstPort": 3100,
        "Bytes": 45213,
        "Rtt": 4.5,
        "Interfaces": ["eth0", "br-ex"],
        "Labels": {"app": "loki"},
    }) else {
        unreachable!()
    };
    let record: Map<String, Value> = record;
    let queries = [
        r#"SrcK8S_Namespace="netobserv" and (Proto=6 or DstPort>=1024) and DstK8S_Namespace!~"^openshift-""#,
        r#"SrcK8S_Namespace!="x" or without(Foo)"#,
        "Bytes>=1000 and Rtt<5 and Proto!=17",
        r#"Bytes=~"^45" and Rtt=~"4\\.5""#,
        r#"SrcK8S_Namespace="$(DstK8S_Namespace)" and DstPort="$(DstPort)""#,
    ];
    for q in queries {
        let filter = flowdsl::compile(q).unwrap();
        // Warm up: the regex engine allocates its per-thread cache on first use.
        assert!(filter.matches(&record), "{q}");
        let n = allocations_during(|| {
            for _ in 0..1000 {
                assert!(filter.matches(&record));
            }
        });
        assert_eq!(n, 0, "{q} allocated {n} times in 1000 evaluations");
    }
    // Lists render into the stack buffer too.
    let filter = flowdsl::compile(r#"Interfaces=~"br-ex""#).unwrap();
    assert!(filter.matches(&record));
    assert_eq!(allocations_during(|| assert!(filter.matches(&record))), 0);
    // The counter does work: maps sort their keys on the heap.
    let filter = flowdsl::compile(r#"Labels=~"app:loki""#).unwrap();
    assert!(filter.matches(&record));
    assert!(allocations_during(|| assert!(filter.matches(&record))) > 0);
}
