// The plotly.js the charts need and no more: its core (which brings the scatter trace)
// plus scattergl, registered as plotly's own partial bundles do. The full
// plotly.js-dist-min is 4.8 MB minified; this is about 1.3 MB.
import Plotly from "plotly.js/lib/core";
import scattergl from "plotly.js/lib/scattergl";

Plotly.register([scattergl]);

export default Plotly;
