//! Typed models of the User API documents. PLACEHOLDER: the generated models replace this file.
