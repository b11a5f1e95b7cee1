export { WhatIfPage, BacktestView } from './WhatIfPage';
