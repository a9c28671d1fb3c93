use health_runtime::__private::{inventory, StaticCheck};
use health_runtime::health_check;

#[health_check]
fn r#type() -> bool {
    true
}

fn main() {
    assert!(r#type());
    let check = inventory::iter::<StaticCheck>
        .into_iter()
        .find(|check| check.settings.name == "type")
        .expect("the name drops the `r#`");
    assert!(check.site.item.ends_with("::r#type"), "{}", check.site.item);
}
