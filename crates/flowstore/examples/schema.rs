//! Prints the store's schema (the statements a new file runs), as kept in `schema.sql`.

fn main() {
    print!("{}", netobserv_flowstore::schema::ddl());
}
