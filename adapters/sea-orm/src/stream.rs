//! SeaORM's [`StreamTrait`] on [`DatabasePool`]: `Entity::find().stream(&db)` checks one
//! connection out for as long as the stream lives, observed like any other checkout.

use std::future::Future;
use std::pin::Pin;

use sea_orm::{DbBackend, DbErr, QueryStream, Statement, StreamTrait};

use crate::pool::Released;
use crate::DatabasePool;

impl StreamTrait for DatabasePool {
    type Stream<'a> = QueryStream;

    fn get_database_backend(&self) -> DbBackend {
        self.connection().get_database_backend()
    }

    fn stream_raw<'a>(
        &'a self,
        stmt: Statement,
    ) -> Pin<Box<dyn Future<Output = Result<QueryStream, DbErr>> + 'a + Send>> {
        Box::pin(self.observe_checkout(self.connection().stream_raw(stmt), Released::Later))
    }
}
