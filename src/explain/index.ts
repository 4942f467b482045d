export { explain, findContainer, findNetwork, type ConnState, type DestinationInfo, type ExplainQuery, type ExplainVerdict, type Explanation, type SourceInfo } from './explain.js';
export { parseTarget, targetText, type Target } from './target.js';
export { suggestException, suggestionYaml, yamlScalar, type SuggestionRequest } from './suggest.js';
export { closeNames } from './names.js';
