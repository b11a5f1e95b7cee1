// Types of the DOM matchers that vitest.setup.ts installs (toBeInTheDocument, ...).
/// <reference types="@testing-library/jest-dom/vitest" />
