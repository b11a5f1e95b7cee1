import { configure } from '@testing-library/react';

// The machine is shared and busy: give findBy*/waitFor more than the 1 s default.
configure({ asyncUtilTimeout: 8000 });
