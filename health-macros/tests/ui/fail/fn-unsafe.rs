use health_runtime::health_check;

#[health_check]
unsafe fn database() -> bool {
    true
}

fn main() {}
