//! `/documents` and `/documents/{docId}/…`.

mod create;
mod delete;
mod list;
mod read;

use actix_web::web;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/documents")
                .route(web::post().to(create::create))
                .route(web::get().to(list::list)),
        )
        .service(
            web::resource("/documents/{doc_id}")
                .route(web::get().to(read::record))
                .route(web::delete().to(delete::delete)),
        )
        .service(web::resource("/documents/{doc_id}/document").route(web::get().to(read::content)))
        .service(
            web::resource("/documents/{doc_id}/{part}").route(web::get().to(read::sub_resource)),
        );
}
