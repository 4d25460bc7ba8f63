//! The operations the mock implements, named by the `operationId`s of the
//! two documents in one table. Each operation of a loaded spec is resolved
//! against it once (`openapi::spec`), so nothing later dispatches on a
//! string; an operation a swapped spec adds that is not here answers a 500
//! saying the mock does not implement it.

/// A Secret Store operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ApiOp {
    /// `POST /v1/apps/secrets`.
    Set,
    /// `GET /v1/apps/secrets/find`.
    Find,
    /// `POST /v1/apps/secrets/delete`.
    Delete,
    /// `GET /v1/apps/secrets`.
    List,
}

/// A control operation under `/_mock/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ControlOp {
    Health,
    Reset,
    GetClock,
    SetClock,
    ExportState,
    ImportState,
    ListRequests,
    GetTranscript,
    AddFault,
    ListFaults,
    GetCoverage,
    Inspector,
}

/// What an operation of a loaded document is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum OpKind {
    Api(ApiOp),
    Control(ControlOp),
}

/// Every `operationId` the mock implements.
pub(crate) const TABLE: [(&str, OpKind); 16] = [
    ("postAppsSecrets", OpKind::Api(ApiOp::Set)),
    ("getAppsSecretsFind", OpKind::Api(ApiOp::Find)),
    ("postAppsSecretsDelete", OpKind::Api(ApiOp::Delete)),
    ("getAppsSecrets", OpKind::Api(ApiOp::List)),
    ("mockHealth", OpKind::Control(ControlOp::Health)),
    ("mockReset", OpKind::Control(ControlOp::Reset)),
    ("mockGetClock", OpKind::Control(ControlOp::GetClock)),
    ("mockSetClock", OpKind::Control(ControlOp::SetClock)),
    ("mockExportState", OpKind::Control(ControlOp::ExportState)),
    ("mockImportState", OpKind::Control(ControlOp::ImportState)),
    ("mockListRequests", OpKind::Control(ControlOp::ListRequests)),
    (
        "mockGetTranscript",
        OpKind::Control(ControlOp::GetTranscript),
    ),
    ("mockAddFault", OpKind::Control(ControlOp::AddFault)),
    ("mockListFaults", OpKind::Control(ControlOp::ListFaults)),
    ("mockGetCoverage", OpKind::Control(ControlOp::GetCoverage)),
    ("mockInspector", OpKind::Control(ControlOp::Inspector)),
];

impl OpKind {
    /// The operation an `operationId` names, if the mock implements it.
    pub fn resolve(operation_id: &str) -> Option<OpKind> {
        TABLE
            .iter()
            .find(|(id, _)| *id == operation_id)
            .map(|(_, kind)| *kind)
    }
}
