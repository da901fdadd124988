// @trackskills/client: see README.md in the parent folder.
export { trackSkillExecution, track, flush, configure, stats, createTracker } from './tracking.js';
