package otlp

// CodexRecordID is codexRecordID, for the tests of package otlp_test.
var CodexRecordID = codexRecordID
