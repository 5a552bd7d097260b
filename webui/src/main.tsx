import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './components/App';
import { JamContext } from './components/context';
import { createJam } from './jam';
import './styles.css';

const jam = createJam();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <JamContext.Provider value={jam}>
      <App />
    </JamContext.Provider>
  </StrictMode>,
);
