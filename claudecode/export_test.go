package claudecode

// PayloadOf is payloadOf, for the tests that decode a payload whole.
var PayloadOf = payloadOf
